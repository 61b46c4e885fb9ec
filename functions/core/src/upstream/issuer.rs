//! Whose tokens a provider's discovery document and ID tokens may name: the
//! configured issuer exactly, Google's two spellings of its own, or Entra's
//! multi-tenant template checked against the token's own tenant (`tid`).

use serde::Deserialize;
use url::Url;

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

/// Entra's tenant for personal Microsoft accounts (Outlook.com, Xbox, the seed's Windows Live ID).
pub const MICROSOFT_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Entra's tenant-independent endpoints and the placeholder their discovery
/// documents put where the tenant goes.
const ENTRA_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];
pub(super) const TENANT_PLACEHOLDER: &str = "{tenantid}";

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
pub(super) fn entra_alias(issuer: &Url) -> Option<&'static str> {
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
