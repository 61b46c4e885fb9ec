//! What a test may choose about its app: the identity providers it trusts,
//! the portals it serves, its rate limits, where its AWS calls go.

use profile_link_core::aws::Endpoints;
use profile_link_core::domain::rate_limit::RateLimits;
use profile_link_core::mail::pace::{PaceConfig, SendPace, TokioTime};

use crate::dev_idp;

/// Which identity provider an app under test trusts.
pub struct ProviderSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// The one provider a test app signs in with: its id in the list.
pub const PROVIDER_ID: &str = "dev";

impl ProviderSettings {
    pub fn dev_idp() -> Self {
        Self { issuer: dev_idp(), client_id: "profile-link-local".into(), client_secret: "local-dev-secret".into() }
    }

    /// These settings as a `PROVIDERS` list of one: OIDC Core as written
    /// (the dev provider's root), so the sign-in rules under test are ours.
    pub fn list(&self) -> String {
        serde_json::json!([{
            "id": PROVIDER_ID,
            "label": "Dev provider",
            "issuer": self.issuer,
            "issuer_policy": {"kind": "exact"},
            "client_id": self.client_id,
            "client_auth": "client_secret_basic",
            "client_secret": self.client_secret,
            "reauthentication": {"request": "prompt_login_and_max_age_0", "proof": "auth_time"},
        }])
        .to_string()
    }
}

/// The callback of the test app's provider.
pub const CALLBACK: &str = "/login/callback/dev";

/// What a test may change about its app.
pub struct TestOptions {
    pub provider: ProviderSettings,
    pub limits: RateLimits,
    /// The origin the app believes it is served at (default: its local URL).
    /// An https origin turns on the production cookie policy.
    pub public_base_url: Option<String>,
    /// Where the functions' AWS SDK clients send every call (default: the
    /// local servers directly; fault tests put a fault-injecting proxy here,
    /// which routes by service). The test's own reads and the mailbox always
    /// go to the servers directly.
    pub aws_proxy: Option<String>,
    /// The local AWS servers holding this app's table and mail (default: the ones scripts/test started).
    pub local_aws: Option<Endpoints>,
    /// A whole `PROVIDERS` list (JSON, secrets inline) in place of `provider`'s list of one.
    pub providers: Option<String>,
    /// The `PORTAL_CLIENTS` list (default: [`PORTAL_CLIENTS`]).
    pub portals: Option<String>,
    /// How long a link stays valid (default: an hour, as deployed).
    pub link_ttl_seconds: i64,
    /// The signing keys (PEM, as SESSION_SIGNING_KEY holds them; default: fresh ones).
    pub session_keys_pem: Option<String>,
    /// Which address the per-network limits count a request under (default: its source address).
    pub client_addresses: profile_link_core::domain::client_address::ClientAddresses,
    /// send-emails's pace (default: [`unhurried_pace`], which never holds a test back).
    pub send_pace: Option<SendPace>,
}

/// A pace as fast as the local servers: 800 sends a second.
pub fn unhurried_pace() -> SendPace {
    let config = PaceConfig { invocations: 1, fallback_send_rate: 1000.0 };
    SendPace::fixed(1000.0, config, std::sync::Arc::new(TokioTime::default()))
}

/// The portals a test app serves: a confidential client that authenticates
/// with Basic (as openid-client does by default; RS256 ID tokens, the default),
/// one with Post (registered for ES256 ID tokens), a public one, and one that
/// asks the person whom they act for.
pub const PORTAL_CLIENTS: &str = r#"[
  {"id": "demo-portal", "name": "Demo portal", "redirect_uris": ["http://127.0.0.1:3100/callback"],
   "post_logout_redirect_uris": ["http://127.0.0.1:3100/"], "client_secret": "demo-portal-secret"},
  {"id": "post-portal", "name": "Post portal", "redirect_uris": ["https://portal.example.com/callback"],
   "token_endpoint_auth_method": "client_secret_post", "client_secret": "post-portal-secret-0123",
   "id_token_signed_response_alg": "ES256"},
  {"id": "spa", "name": "Single-page app", "redirect_uris": ["https://spa.example.com/cb"],
   "token_endpoint_auth_method": "none"},
  {"id": "chooser", "name": "Chooser portal", "redirect_uris": ["https://chooser.example.com/cb"],
   "client_secret": "chooser-portal-secret-0123", "profile_selection": "required"}
]"#;

impl Default for TestOptions {
    fn default() -> Self {
        // Generous limits so only the rate-limit tests meet them.
        Self {
            provider: ProviderSettings::dev_idp(),
            limits: RateLimits {
                per_identity: 100,
                per_address: 100,
                per_ip: 1000,
                window_seconds: 3600,
                per_address_per_day: 1000,
                sign_ins_per_ip: 100_000,
            },
            public_base_url: None,
            aws_proxy: None,
            local_aws: None,
            providers: None,
            portals: None,
            link_ttl_seconds: 3600,
            session_keys_pem: None,
            client_addresses: Default::default(),
            send_pace: None,
        }
    }
}
