//! Configuration: typed, parsed once per cold start from the environment, and
//! failing fast with a message that names the variable at fault.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use url::Url;

/// A snapshot of environment variables. Tests build one from a map instead of
/// mutating the process environment. It remembers every name it was asked
/// for, so a test can check that template.yaml sets everything a function reads.
#[derive(Debug, Clone, Default)]
pub struct Env {
    values: HashMap<String, String>,
    read: Arc<Mutex<BTreeSet<String>>>,
}

impl Env {
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { values: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), read: Arc::default() }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_owned(), value.into());
    }

    /// The value, trimmed; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.read.lock().expect("not poisoned").insert(name.to_owned());
        self.values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every variable name read so far (set or not).
    pub fn names_read(&self) -> BTreeSet<String> {
        self.read.lock().expect("not poisoned").clone()
    }

    pub fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::missing(name))
    }

    /// An optional number within `range`, or `default` when unset.
    pub fn number_in<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.get(name) else { return Ok(default) };
        let value: T =
            raw.parse().map_err(|_| ConfigError::invalid(name, format!("expected a whole number, got {raw:?}")))?;
        if !range.contains(&value) {
            return Err(ConfigError::invalid(name, format!("{value} is outside {}..={}", range.start(), range.end())));
        }
        Ok(value)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn missing(variable: &'static str) -> Self {
        Self { variable, problem: "is required but not set".into() }
    }
    pub fn invalid(variable: &'static str, problem: impl Into<String>) -> Self {
        Self { variable, problem: problem.into() }
    }
}

/// How cookies are marked. `Secure` everywhere but a plain-http loopback dev server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookiePolicy {
    /// `__Host-` prefix, `Secure`: the only policy for a real deployment.
    Secure,
    /// Local-only relaxation: plain http on 127.0.0.1/localhost, so no `Secure`
    /// flag and no `__Host-` prefix (browsers refuse both over http).
    LocalPlainHttp,
}

/// The public origin the service is reached at, e.g. `https://link.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(Url);

impl PublicBaseUrl {
    pub fn parse(variable: &'static str, raw: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(raw).map_err(|e| ConfigError::invalid(variable, format!("not a URL: {e}")))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(ConfigError::invalid(
                    variable,
                    "plain http is only allowed on 127.0.0.1 or localhost; use https",
                ));
            }
            other => return Err(ConfigError::invalid(variable, format!("unsupported scheme {other:?}"))),
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::invalid(
                variable,
                "must be an origin without path, query or fragment (mount the API at the domain root)",
            ));
        }
        Ok(Self(url))
    }

    /// `https://host[:port]` without a trailing slash.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// An absolute URL for a path on this service (`path` starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }

    pub fn cookie_policy(&self) -> CookiePolicy {
        if self.0.scheme() == "https" { CookiePolicy::Secure } else { CookiePolicy::LocalPlainHttp }
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

/// What pages and emails say about who runs the service.
#[derive(Debug, Clone)]
pub struct Branding {
    pub product_name: String,
    pub operator_name: String,
    pub support_email: String,
    /// Where a person goes once their profiles are linked.
    pub portal_url: Option<String>,
}

/// Settings every function shares.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub table_name: String,
    pub public_base_url: PublicBaseUrl,
    pub branding: Branding,
    /// Lifetime of a session cookie and token.
    pub session_ttl_seconds: i64,
}

impl SiteConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let support_email = env.required("SUPPORT_EMAIL")?;
        if !support_email.contains('@') || support_email.len() > 254 {
            return Err(ConfigError::invalid("SUPPORT_EMAIL", "expected an email address"));
        }
        let portal_url = match env.get("PORTAL_URL") {
            None => None,
            Some(raw) => {
                let url = Url::parse(raw).map_err(|e| ConfigError::invalid("PORTAL_URL", format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "https" | "http") {
                    return Err(ConfigError::invalid("PORTAL_URL", "expected an http(s) URL"));
                }
                Some(url.to_string())
            }
        };
        Ok(Self {
            table_name: env.required("TABLE_NAME")?.to_owned(),
            public_base_url: PublicBaseUrl::parse("PUBLIC_BASE_URL", env.required("PUBLIC_BASE_URL")?)?,
            branding: Branding {
                product_name: env.get("PRODUCT_NAME").unwrap_or("profile-link").to_owned(),
                operator_name: env.get("OPERATOR_NAME").unwrap_or("Example Ltd").to_owned(),
                support_email: support_email.to_owned(),
                portal_url,
            },
            session_ttl_seconds: env.number_in("SESSION_TTL_SECONDS", 3600, 300..=43_200)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut env = Env::from_pairs([
            ("TABLE_NAME", "profile-link"),
            ("PUBLIC_BASE_URL", "https://link.example.com"),
            ("SUPPORT_EMAIL", "help@example.com"),
        ]);
        for (k, v) in extra {
            env.set(k, *v);
        }
        env
    }

    #[test]
    fn parses_a_complete_configuration_with_defaults() {
        let config = SiteConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config.public_base_url.origin(), "https://link.example.com");
        assert_eq!(config.public_base_url.cookie_policy(), CookiePolicy::Secure);
        assert_eq!(config.session_ttl_seconds, 3600);
        assert_eq!(config.branding.product_name, "profile-link");
    }

    #[test]
    fn names_the_missing_variable() {
        let mut e = env(&[]);
        e.set("TABLE_NAME", "  ");
        let err = SiteConfig::from_env(&e).unwrap_err();
        assert_eq!(err.variable, "TABLE_NAME");
        assert!(err.to_string().contains("TABLE_NAME: is required"));
    }

    #[test]
    fn plain_http_is_allowed_only_on_loopback() {
        let local = SiteConfig::from_env(&env(&[("PUBLIC_BASE_URL", "http://127.0.0.1:3000")])).unwrap();
        assert_eq!(local.public_base_url.cookie_policy(), CookiePolicy::LocalPlainHttp);
        assert_eq!(local.public_base_url.join("/login"), "http://127.0.0.1:3000/login");
        let err = SiteConfig::from_env(&env(&[("PUBLIC_BASE_URL", "http://link.example.com")])).unwrap_err();
        assert_eq!(err.variable, "PUBLIC_BASE_URL");
    }

    #[test]
    fn base_url_must_be_an_origin() {
        for bad in ["https://x.example.com/app", "https://x.example.com/?a=1", "ftp://x.example.com", "not a url"] {
            assert!(SiteConfig::from_env(&env(&[("PUBLIC_BASE_URL", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_are_range_checked() {
        let err = SiteConfig::from_env(&env(&[("SESSION_TTL_SECONDS", "10")])).unwrap_err();
        assert!(err.problem.contains("outside"), "{err}");
        let err = SiteConfig::from_env(&env(&[("SESSION_TTL_SECONDS", "ten")])).unwrap_err();
        assert!(err.problem.contains("whole number"), "{err}");
    }
}
