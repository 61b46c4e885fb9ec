//! The identity providers one deployment signs people in with: the
//! `PROVIDERS` list (a JSON array; README, "Identity providers"), and what
//! each provider's own behaviour requires of us: how its issuer is checked,
//! how a fresh sign-in is asked for and proven, how we authenticate at its
//! token endpoint, and how its answer comes back.

use serde::Deserialize;
use url::Url;

use crate::config::ConfigError;
pub use crate::domain::provider_id::ProviderId;
use crate::secrets::SecretSource;

/// The variable (and, deployed, the SSM parameter's content) holding the list.
pub const PROVIDERS: &str = "PROVIDERS";

/// Entra's tenant for personal Microsoft accounts (Outlook.com, Xbox, the seed's Windows Live ID).
pub const MICROSOFT_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Entra's tenant-independent endpoints and the placeholder their discovery
/// documents put where the tenant goes.
const ENTRA_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Which Microsoft accounts an Entra provider takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntraAccounts {
    /// Work and school accounts (any tenant, or those on the allow-list).
    Work,
    /// Personal Microsoft accounts only.
    Personal,
    /// Both.
    Both,
}

/// How an ID token's `iss` is checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IssuerPolicy {
    /// `iss` is the configured issuer, as discovery names it.
    Exact,
    /// Google: as exact, except that Google documents `iss` as either
    /// `https://accounts.google.com` or `accounts.google.com`; the identity's
    /// issuer is the first either way, so a person stays one identity.
    Google,
    /// Entra's multi-tenant endpoints: discovery names the template
    /// `…/{tenantid}/v2.0`; a token's `iss` must be that template filled with
    /// the token's own `tid`, and the `tid` must be allowed.
    Entra {
        accounts: EntraAccounts,
        /// Work-account tenants allowed (tenant ids); empty: any tenant.
        #[serde(default)]
        tenants: Vec<String>,
    },
}

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

/// The issuer a provider's tokens are checked against, once its discovery
/// document agreed with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The exact issuer, or Entra's template with `{tenantid}` in it.
    expected: String,
    policy: IssuerPolicy,
}

/// Why a token's issuer is not trusted (for logs; the page says "could not verify").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssuerRejected {
    #[error("{}", self.reason())]
    WrongIssuer,
    #[error("{}", self.reason())]
    NoTenant,
    #[error("{}", self.reason())]
    TenantMismatch,
    #[error("{}", self.reason())]
    AccountKind,
    #[error("{}", self.reason())]
    TenantNotAllowed,
}

impl IssuerPolicy {
    /// OIDC Discovery §4.3 as each policy reads it: the document fetched from
    /// `configured` must name `configured` itself (exact), or for Entra's
    /// `common`/`organizations` the template `…/{tenantid}/…` in its place,
    /// for `consumers` the personal-account tenant's own issuer.
    pub fn check_discovery(&self, configured: &str, discovered: &str) -> Result<TrustedIssuer, String> {
        let trusted = |expected: &str| TrustedIssuer { expected: expected.to_owned(), policy: self.clone() };
        if discovered == configured && !discovered.contains(TENANT_PLACEHOLDER) {
            return Ok(trusted(discovered));
        }
        if let Self::Entra { .. } = self {
            let url = Url::parse(configured).map_err(|e| e.to_string())?;
            if let Some(alias) = entra_alias(&url) {
                let segment = format!("/{alias}/");
                let template = configured.replacen(&segment, &format!("/{TENANT_PLACEHOLDER}/"), 1);
                let consumers = configured.replacen(&segment, &format!("/{MICROSOFT_CONSUMER_TENANT}/"), 1);
                if discovered == template || (alias == "consumers" && discovered == consumers) {
                    return Ok(trusted(discovered));
                }
            }
        }
        Err(format!("discovery names issuer {discovered:?}, configured {configured:?}"))
    }
}

impl IssuerRejected {
    /// The reason, for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::WrongIssuer => "wrong issuer",
            Self::NoTenant => "no tid, or a tid that is not a tenant id",
            Self::TenantMismatch => "iss is not the issuer template filled with the token's own tid",
            Self::AccountKind => "a kind of Microsoft account this provider does not take",
            Self::TenantNotAllowed => "tenant not on the allow-list",
        }
    }
}

impl TrustedIssuer {
    /// Whether `iss` is an issuer this provider's tokens may carry: the exact
    /// one, or for Entra's template the template with some tenant id in it.
    pub fn names(&self, iss: &str) -> bool {
        match self.expected.split_once(TENANT_PLACEHOLDER) {
            None if self.policy == IssuerPolicy::Google => self.check_token(iss, None).is_ok(),
            None => iss == self.expected,
            Some((before, after)) => {
                iss.strip_prefix(before).and_then(|rest| rest.strip_suffix(after)).is_some_and(is_tenant_id)
            }
        }
    }

    /// Checks a validly signed token's `iss` (and for Entra its `tid`), and
    /// gives the issuer the identity is known by.
    pub fn check_token(&self, iss: &str, tid: Option<&str>) -> Result<String, IssuerRejected> {
        let (accounts, tenants) = match &self.policy {
            IssuerPolicy::Exact if iss == self.expected => return Ok(iss.to_owned()),
            IssuerPolicy::Google if iss == self.expected || Some(iss) == self.expected.strip_prefix("https://") => {
                return Ok(self.expected.clone());
            }
            IssuerPolicy::Exact | IssuerPolicy::Google => return Err(IssuerRejected::WrongIssuer),
            IssuerPolicy::Entra { accounts, tenants } => (accounts, tenants),
        };
        let tid = tid.filter(|t| is_tenant_id(t)).ok_or(IssuerRejected::NoTenant)?;
        if iss != self.expected.replace(TENANT_PLACEHOLDER, tid) {
            return Err(if self.expected.contains(TENANT_PLACEHOLDER) {
                IssuerRejected::TenantMismatch
            } else {
                IssuerRejected::WrongIssuer
            });
        }
        let personal = tid == MICROSOFT_CONSUMER_TENANT;
        match (accounts, personal) {
            (EntraAccounts::Work, true) | (EntraAccounts::Personal, false) => return Err(IssuerRejected::AccountKind),
            _ => {}
        }
        if !personal && !tenants.is_empty() && !tenants.iter().any(|t| t == tid) {
            return Err(IssuerRejected::TenantNotAllowed);
        }
        Ok(iss.to_owned())
    }

    pub fn is_entra(&self) -> bool {
        matches!(self.policy, IssuerPolicy::Entra { .. })
    }
}

/// `common`, `organizations` or `consumers`, if the issuer's path names one.
fn entra_alias(issuer: &Url) -> Option<&'static str> {
    let segments: Vec<&str> = issuer.path_segments()?.collect();
    ENTRA_ALIASES.into_iter().find(|alias| segments.contains(alias))
}

/// A tenant id as Entra writes it: a GUID in lower-case hex.
pub fn is_tenant_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTOSO: &str = "3f6c2d1a-8b4e-4c7f-9a15-2e7d0b9c4a61";
    const FABRIKAM: &str = "b8e41f07-5d2c-4a96-8e3b-71c9f0a2d5e4";
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

    fn entra(accounts: EntraAccounts, tenants: &[&str]) -> IssuerPolicy {
        IssuerPolicy::Entra { accounts, tenants: tenants.iter().map(|t| (*t).to_owned()).collect() }
    }

    #[test]
    fn entra_discovery_may_name_the_tenant_template() {
        let policy = entra(EntraAccounts::Work, &[]);
        let configured = format!("{MS}/organizations/v2.0");
        assert!(policy.check_discovery(&configured, &format!("{MS}/{{tenantid}}/v2.0")).is_ok());
        assert!(policy.check_discovery(&configured, "https://evil.example/{tenantid}/v2.0").is_err());
        assert!(IssuerPolicy::Exact.check_discovery(&configured, &format!("{MS}/{{tenantid}}/v2.0")).is_err());
        let consumers = format!("{MS}/consumers/v2.0");
        let personal = entra(EntraAccounts::Personal, &[]);
        assert!(personal.check_discovery(&consumers, &format!("{MS}/{MICROSOFT_CONSUMER_TENANT}/v2.0")).is_ok());
        let single = format!("{MS}/{CONTOSO}/v2.0");
        assert!(IssuerPolicy::Exact.check_discovery(&single, &single).is_ok());
    }

    #[test]
    fn an_entra_token_is_checked_against_its_own_tenant() {
        let template = format!("{MS}/{{tenantid}}/v2.0");
        let configured = format!("{MS}/common/v2.0");
        let iss = |tid: &str| format!("{MS}/{tid}/v2.0");
        let check = |policy: IssuerPolicy, iss: &str, tid: Option<&str>| {
            policy.check_discovery(&configured, &template).unwrap().check_token(iss, tid)
        };
        let work = || entra(EntraAccounts::Work, &[]);
        assert_eq!(check(work(), &iss(CONTOSO), Some(CONTOSO)), Ok(iss(CONTOSO)));
        assert_eq!(check(work(), &iss(CONTOSO), Some(FABRIKAM)), Err(IssuerRejected::TenantMismatch));
        assert_eq!(check(work(), &iss(CONTOSO), None), Err(IssuerRejected::NoTenant));
        assert_eq!(check(work(), &iss("{tenantid}"), Some("{tenantid}")), Err(IssuerRejected::NoTenant));
        let kim = iss(MICROSOFT_CONSUMER_TENANT);
        assert_eq!(check(work(), &kim, Some(MICROSOFT_CONSUMER_TENANT)), Err(IssuerRejected::AccountKind));
        assert_eq!(
            check(entra(EntraAccounts::Personal, &[]), &iss(CONTOSO), Some(CONTOSO)),
            Err(IssuerRejected::AccountKind)
        );
        let both = || entra(EntraAccounts::Both, &[CONTOSO]);
        assert_eq!(
            check(both(), &kim, Some(MICROSOFT_CONSUMER_TENANT)),
            Ok(kim.clone()),
            "the list is of work tenants"
        );
        assert_eq!(check(both(), &iss(CONTOSO), Some(CONTOSO)), Ok(iss(CONTOSO)));
        assert_eq!(check(both(), &iss(FABRIKAM), Some(FABRIKAM)), Err(IssuerRejected::TenantNotAllowed));
    }

    #[test]
    fn an_exact_issuer_is_compared_whole() {
        let trusted = IssuerPolicy::Exact.check_discovery("https://a.example", "https://a.example").unwrap();
        assert_eq!(trusted.check_token("https://a.example", None), Ok("https://a.example".to_owned()));
        assert_eq!(trusted.check_token("https://a.example/", None), Err(IssuerRejected::WrongIssuer));
        assert!(trusted.names("https://a.example") && !trusted.names("https://a.example.evil"));
    }

    #[test]
    fn an_entra_template_names_every_tenants_issuer_and_nothing_else() {
        let policy = entra(EntraAccounts::Work, &[]);
        let trusted = policy.check_discovery(&format!("{MS}/common/v2.0"), &format!("{MS}/{{tenantid}}/v2.0")).unwrap();
        assert!(trusted.names(&format!("{MS}/{CONTOSO}/v2.0")));
        assert!(!trusted.names(&format!("{MS}/{{tenantid}}/v2.0")));
        assert!(!trusted.names(&format!("{MS}/{CONTOSO}/v2.0/x")));
        assert!(!trusted.names(&format!("https://evil.example/{CONTOSO}/v2.0")));
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

    #[test]
    fn google_tokens_name_their_issuer_two_ways_and_are_one_identity() {
        let google = "https://accounts.google.com";
        let trusted = IssuerPolicy::Google.check_discovery(google, google).unwrap();
        assert_eq!(trusted.check_token(google, None), Ok(google.to_owned()));
        assert_eq!(trusted.check_token("accounts.google.com", None), Ok(google.to_owned()), "the same identity");
        assert_eq!(trusted.check_token("http://accounts.google.com", None), Err(IssuerRejected::WrongIssuer));
        assert!(trusted.names("accounts.google.com") && !trusted.names("accounts.google.com.evil"));
        let exact = IssuerPolicy::Exact.check_discovery(google, google).unwrap();
        assert_eq!(exact.check_token("accounts.google.com", None), Err(IssuerRejected::WrongIssuer));
    }

    #[test]
    fn tenant_ids_are_lower_case_guids() {
        assert!(is_tenant_id(CONTOSO));
        assert!(!is_tenant_id(&CONTOSO.to_uppercase()));
        assert!(!is_tenant_id("common"));
        assert!(!is_tenant_id("3f6c2d1a-8b4e-4c7f-9a15-2e7d0b9c4a6"));
    }
}
