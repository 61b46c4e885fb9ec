//! The identity providers one deployment signs people in with: the
//! `PROVIDERS` list (a JSON array; docs/operating.md, "Identity providers"), and what
//! each provider's own behaviour requires of us: how its issuer is checked,
//! how a fresh sign-in is asked for and proven, how we authenticate at its
//! token endpoint, and how its answer comes back.

use serde::Deserialize;
use url::Url;

use super::issuer::{EntraAccounts, IssuerPolicy, entra_alias, is_tenant_id};
use crate::config::ConfigError;
pub use crate::domain::provider_id::ProviderId;
use crate::secrets::SecretSource;

/// The variable (and, deployed, the SSM parameter's content) holding the list.
pub const PROVIDERS: &str = "PROVIDERS";

/// How we ask the provider for a fresh sign-in (redeeming a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReauthenticationRequest {
    /// `prompt=login` (Entra, Auth0, Okta, Keycloak).
    PromptLogin,
    /// `max_age=0` (Google: it refuses `prompt=login`; OIDC Core then requires `auth_time`).
    #[serde(rename = "max_age_0")]
    MaxAge0,
    /// Both.
    #[serde(rename = "prompt_login_and_max_age_0")]
    PromptLoginAndMaxAge0,
    /// `prompt=select_account`: the provider shows its account chooser, no password.
    SelectAccount,
}

impl ReauthenticationRequest {
    pub fn parameters(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::PromptLogin => &[("prompt", "login")],
            Self::MaxAge0 => &[("max_age", "0")],
            Self::PromptLoginAndMaxAge0 => &[("prompt", "login"), ("max_age", "0")],
            Self::SelectAccount => &[("prompt", "select_account")],
        }
    }

    /// Whether the request carries `max_age`, so OIDC Core §2 obliges the provider to send `auth_time`.
    pub fn sends_max_age(self) -> bool {
        matches!(self, Self::MaxAge0 | Self::PromptLoginAndMaxAge0)
    }
}

/// How a fresh sign-in is proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReauthenticationProof {
    /// The ID token's `auth_time` is present and after the click. Without it
    /// the sign-in does not count as fresh.
    AuthTime,
    /// The operator's documented weaker rule, for a provider that never sends
    /// `auth_time`: a forced sign-in completed after the click counts as
    /// fresh when its token has no `auth_time` (one it has is still checked).
    /// It proves that the person finished a sign-in, not that the provider
    /// asked for their password again.
    CompletedSignIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reauthentication {
    pub request: ReauthenticationRequest,
    pub proof: ReauthenticationProof,
}

/// How we authenticate at the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 client assertion signed with our private key.
    PrivateKeyJwt,
}

impl ClientAuth {
    /// Its name in discovery's `token_endpoint_auth_methods_supported`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn uses_secret(self) -> bool {
        !matches!(self, Self::PrivateKeyJwt)
    }
}

/// How the authorization response reaches the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    /// A cross-site POST to the callback (Apple, once `email` or `name` is asked for).
    FormPost,
}

/// One provider, as configured and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub id: ProviderId,
    /// Its name on buttons and pages ("Microsoft", "Google").
    pub label: String,
    pub issuer: String,
    pub issuer_policy: IssuerPolicy,
    pub client_id: String,
    pub client_auth: ClientAuth,
    /// The client secret, or the private key (PKCS#8 PEM) for `private_key_jwt`.
    pub credential: SecretSource,
    /// `private_key_jwt`: the key's id (`kid`) at the provider, and for Entra
    /// the certificate's SHA-256 thumbprint (`x5t#S256`, base64url).
    pub key_id: Option<String>,
    pub certificate_thumbprint: Option<String>,
    /// Sign in with Apple: our Apple team id. The client secret is then a
    /// short-lived ES256 JWT we sign with the key Apple issued
    /// (`private_key_parameter`, `key_id` its Key ID), sent by `client_secret_post`.
    pub apple_team_id: Option<String>,
    pub scopes: String,
    pub reauthentication: Reauthentication,
    pub response_mode: ResponseMode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: ProviderId,
    label: String,
    issuer: String,
    issuer_policy: IssuerPolicy,
    client_id: String,
    client_auth: ClientAuth,
    client_secret: Option<String>,
    client_secret_parameter: Option<String>,
    private_key: Option<String>,
    private_key_parameter: Option<String>,
    key_id: Option<String>,
    certificate_thumbprint: Option<String>,
    apple_team_id: Option<String>,
    #[serde(default = "default_scopes")]
    scopes: String,
    reauthentication: Reauthentication,
    #[serde(default)]
    response_mode: ResponseMode,
}

fn default_scopes() -> String {
    "openid email profile".to_owned()
}

/// The checked list: at least one provider, ids unique, in the order given
/// (the order of the buttons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Providers(Vec<ProviderConfig>);

impl Providers {
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let invalid = |problem: String| ConfigError::invalid(PROVIDERS, problem);
        let raw: Vec<RawProvider> =
            serde_json::from_str(json).map_err(|e| invalid(format!("not a provider list: {e}")))?;
        if raw.is_empty() {
            return Err(invalid("lists no provider".into()));
        }
        let mut providers: Vec<ProviderConfig> = Vec::with_capacity(raw.len());
        for entry in raw {
            let provider = entry.check().map_err(|problem| invalid(problem))?;
            if providers.iter().any(|p| p.id == provider.id) {
                return Err(invalid(format!("provider id {:?} appears twice", provider.id.as_str())));
            }
            providers.push(provider);
        }
        Ok(Self(providers))
    }

    pub fn get(&self, id: &ProviderId) -> Option<&ProviderConfig> {
        self.0.iter().find(|p| &p.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProviderConfig> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The only provider, when there is just one (sign-in needs no choice).
    pub fn only(&self) -> Option<&ProviderConfig> {
        match self.0.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

impl RawProvider {
    fn check(self) -> Result<ProviderConfig, String> {
        let id = self.id;
        let at = |problem: &str| format!("provider {:?}: {problem}", id.as_str());
        let label = self.label.trim().to_owned();
        if label.is_empty() || label.chars().count() > 40 || label.chars().any(char::is_control) {
            return Err(at("label must be 1 to 40 characters, no control characters"));
        }
        let url = Url::parse(&self.issuer).map_err(|e| at(&format!("issuer is not a URL: {e}")))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(at("issuer must be https (plain http only on loopback, for the dev providers)"));
        }
        if self.client_id.is_empty() || self.client_id.len() > 255 {
            return Err(at("client_id must be 1 to 255 characters"));
        }
        if !self.scopes.split_whitespace().any(|s| s == "openid") {
            return Err(at("scopes must include openid"));
        }
        if let IssuerPolicy::Entra { accounts, tenants } = &self.issuer_policy {
            if entra_alias(&url).is_none() && !url.path_segments().into_iter().flatten().any(is_tenant_id) {
                return Err(at("an entra issuer names a tenant id or common, organizations or consumers"));
            }
            if let Some(bad) = tenants.iter().find(|t| !is_tenant_id(t)) {
                return Err(at(&format!("tenants: {bad:?} is not a tenant id (a GUID in lower case)")));
            }
            if *accounts == EntraAccounts::Personal && !tenants.is_empty() {
                return Err(at("tenants apply to work accounts; personal accounts have one tenant"));
            }
        }
        let (secret, key) = (
            one_source(self.client_secret, self.client_secret_parameter)
                .map_err(|p| at(&format!("client_secret: {p}")))?,
            one_source(self.private_key, self.private_key_parameter).map_err(|p| at(&format!("private_key: {p}")))?,
        );
        let apple = self.apple_team_id.is_some();
        if let Some(team) = &self.apple_team_id {
            if team.is_empty() || team.len() > 32 || !team.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(at("apple_team_id is the team's ID, letters and digits"));
            }
            if self.client_auth != ClientAuth::ClientSecretPost || self.key_id.is_none() {
                return Err(at("apple_team_id goes with client_auth client_secret_post and the key's key_id"));
            }
        }
        let credential = match (self.client_auth, secret, key) {
            (ClientAuth::PrivateKeyJwt, None, Some(key)) => key,
            (ClientAuth::ClientSecretPost, None, Some(key)) if apple => key,
            (ClientAuth::PrivateKeyJwt, _, _) => {
                return Err(at("private_key_jwt takes private_key_parameter (and no client secret)"));
            }
            (_, Some(secret), None) if !apple => secret,
            (_, _, _) if apple => {
                return Err(at("with apple_team_id, the secret is minted from private_key_parameter"));
            }
            (method, _, _) => {
                return Err(at(&format!("{} takes client_secret_parameter (and no private key)", method.as_str())));
            }
        };
        if self.client_auth != ClientAuth::PrivateKeyJwt && !apple && self.key_id.is_some()
            || self.client_auth != ClientAuth::PrivateKeyJwt && self.certificate_thumbprint.is_some()
        {
            return Err(at(
                "key_id and certificate_thumbprint belong to private_key_jwt (key_id also to apple_team_id)",
            ));
        }
        if let Some(thumbprint) = &self.certificate_thumbprint {
            let decoded = base64_url_decoded_len(thumbprint);
            if decoded != Some(32) {
                return Err(at(
                    "certificate_thumbprint is the certificate's SHA-256 digest in base64url (43 characters)",
                ));
            }
        }
        Ok(ProviderConfig {
            id,
            label,
            issuer: self.issuer,
            issuer_policy: self.issuer_policy,
            client_id: self.client_id,
            client_auth: self.client_auth,
            credential,
            key_id: self.key_id,
            certificate_thumbprint: self.certificate_thumbprint,
            apple_team_id: self.apple_team_id,
            scopes: self.scopes,
            reauthentication: self.reauthentication,
            response_mode: self.response_mode,
        })
    }
}

/// At most one of the inline value and the SSM parameter name.
fn one_source(inline: Option<String>, parameter: Option<String>) -> Result<Option<SecretSource>, &'static str> {
    match (inline, parameter) {
        (Some(_), Some(_)) => Err("give the value or the parameter, not both"),
        (Some(v), None) if v.trim().is_empty() => Err("is empty"),
        (Some(v), None) => Ok(Some(SecretSource::Inline(v))),
        (None, Some(p)) if !p.starts_with('/') => Err("the SSM parameter's name starts with /"),
        (None, Some(p)) => Ok(Some(SecretSource::Ssm(p))),
        (None, None) => Ok(None),
    }
}

fn base64_url_decoded_len(s: &str) -> Option<usize> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok().map(|b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: &str = "https://login.microsoftonline.com";

    fn entry(extra: &str) -> String {
        format!(
            r#"[{{"id":"entra","label":"Microsoft","issuer":"{MS}/organizations/v2.0",
               "issuer_policy":{{"kind":"entra","accounts":"work"}},"client_id":"c",
               "client_auth":"client_secret_post","client_secret_parameter":"/pl/entra",
               "reauthentication":{{"request":"prompt_login","proof":"auth_time"}}{extra}}}]"#
        )
    }

    #[test]
    fn a_list_parses_with_defaults() {
        let providers = Providers::parse(&entry("")).unwrap();
        let entra = providers.only().unwrap();
        assert_eq!(entra.id.as_str(), "entra");
        assert_eq!(entra.scopes, "openid email profile");
        assert_eq!(entra.response_mode, ResponseMode::Query);
        assert_eq!(entra.credential, SecretSource::Ssm("/pl/entra".into()));
        assert_eq!(entra.reauthentication.request.parameters(), &[("prompt", "login")]);
    }

    #[test]
    fn a_list_that_is_wrong_says_where() {
        let cases = [
            ("[]".to_owned(), "lists no provider"),
            (entry(r#","client_secret":"s""#), "not both"),
            (entry(r#","key_id":"k""#), "belong to private_key_jwt"),
            (entry(r#","apple_team_id":"T1","key_id":"k""#), "the secret is minted from private_key_parameter"),
            (
                entry(r#","apple_team_id":"T1""#).replace("client_secret_parameter", "private_key_parameter"),
                "and the key's key_id",
            ),
            (entry(r#","scopes":"email""#), "must include openid"),
            (entry(r#","colour":"blue""#), "unknown field"),
            (entry("").replace("organizations", "contoso.example"), "names a tenant id"),
            (entry("").replace(r#""work"}"#, r#""work","tenants":["Contoso"]}"#), "not a tenant id"),
            (entry("").replace("client_secret_post", "private_key_jwt"), "takes private_key_parameter"),
            (entry("").replace("https://login", "http://login"), "must be https"),
            (entry("").replace(r#""id":"entra""#, r#""id":"Entra ID""#), "[a-z0-9-]"),
        ];
        for (json, expected) in cases {
            let error = Providers::parse(&json).unwrap_err();
            assert_eq!(error.variable, PROVIDERS);
            assert!(error.problem.contains(expected), "{json}: said {:?}, expected {expected:?}", error.problem);
        }
        let twice = entry("").replace('[', "").replace(']', "");
        let error = Providers::parse(&format!("[{twice},{twice}]")).unwrap_err();
        assert!(error.problem.contains("appears twice"), "{}", error.problem);
    }

    #[test]
    fn the_dev_providers_list_parses() {
        // The format infra/dev-idp serves at /dev-providers.json.
        let list = r#"[{"id":"google","label":"Google","issuer":"http://127.0.0.1:9400/google","issuer_policy":{"kind":"exact"},
            "client_id":"profile-link-local","client_secret":"s","client_auth":"client_secret_basic","scopes":"openid email profile",
            "reauthentication":{"request":"max_age_0","proof":"auth_time"},"response_mode":"query"},
            {"id":"dev","label":"Dev provider","issuer":"http://127.0.0.1:9400","issuer_policy":{"kind":"exact"},
            "client_id":"profile-link-local","client_secret":"s","client_auth":"client_secret_basic",
            "reauthentication":{"request":"prompt_login_and_max_age_0","proof":"auth_time"}}]"#;
        let providers = Providers::parse(list).unwrap();
        let requests: Vec<_> = providers.iter().map(|p| p.reauthentication.request.parameters()).collect();
        assert_eq!(requests, [&[("max_age", "0")][..], &[("prompt", "login"), ("max_age", "0")][..]]);
    }
}
