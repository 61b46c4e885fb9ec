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

/// The one stylesheet, inlined so pages need no second request; the CSP allows
/// exactly this text (with the operator's accent colour, see `Branding`) by its hash.
pub const STYLESHEET: &str = include_str!("../templates/style.css");

/// `'sha256-…'`: the CSP source that allows exactly this inline text.
pub fn csp_hash_source(text: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// What pages and emails say about who runs the service, and how they look.
#[derive(Debug, Clone)]
pub struct Branding {
    pub product_name: String,
    pub operator_name: String,
    pub support_email: String,
    /// Where a person goes once their profiles are linked.
    pub portal_url: Option<String>,
    /// The operator's logo, shown in the page header.
    pub logo_url: Option<String>,
    /// The stylesheet every page inlines (with the accent colour, if any) and
    /// the CSP source that allows exactly it.
    pub stylesheet: String,
    pub stylesheet_csp: String,
}

impl Branding {
    /// Plain branding with the built-in look (tests, tools).
    pub fn new(product_name: &str, operator_name: &str, support_email: &str) -> Self {
        Self::styled(product_name, operator_name, support_email, None, None, None)
    }

    fn styled(
        product_name: &str,
        operator_name: &str,
        support_email: &str,
        portal_url: Option<String>,
        logo_url: Option<String>,
        accent: Option<&str>,
    ) -> Self {
        let mut stylesheet = STYLESHEET.to_owned();
        if let Some(accent) = accent {
            // Later rules win: the operator's colour replaces the built-in one.
            stylesheet.push_str(&format!(":root{{--accent:{accent}}}\n"));
        }
        let stylesheet_csp = csp_hash_source(&stylesheet);
        Self {
            product_name: product_name.to_owned(),
            operator_name: operator_name.to_owned(),
            support_email: support_email.to_owned(),
            portal_url,
            logo_url,
            stylesheet,
            stylesheet_csp,
        }
    }
}

/// `#rrggbb` or `#rgb`, dark enough that white button text on it meets WCAG
/// AA (contrast ratio 4.5:1).
fn accent_color(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let hex =
        raw.strip_prefix('#').filter(|h| (h.len() == 6 || h.len() == 3) && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(hex) = hex else {
        return Err(ConfigError::invalid(variable, format!("expected a colour like #1f5fbf, got {raw:?}")));
    };
    let full: String = if hex.len() == 3 { hex.chars().flat_map(|c| [c, c]).collect() } else { hex.to_owned() };
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&full[i..i + 2], 16).expect("validated hex")) / 255.0;
        if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    let contrast = 1.05 / (luminance + 0.05);
    if contrast < 4.5 {
        return Err(ConfigError::invalid(
            variable,
            format!(
                "#{full} is too light for white button text (contrast {contrast:.1}:1, needs 4.5:1); choose a darker colour"
            ),
        ));
    }
    Ok(format!("#{}", full.to_ascii_lowercase()))
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
        let logo_url = match env.get("LOGO_URL") {
            None => None,
            Some(raw) => {
                let url = Url::parse(raw).map_err(|e| ConfigError::invalid("LOGO_URL", format!("not a URL: {e}")))?;
                if url.scheme() != "https" {
                    return Err(ConfigError::invalid("LOGO_URL", "must be an https URL"));
                }
                Some(url.to_string())
            }
        };
        let accent = env.get("ACCENT_COLOR").map(|raw| accent_color("ACCENT_COLOR", raw)).transpose()?;
        Ok(Self {
            table_name: env.required("TABLE_NAME")?.to_owned(),
            public_base_url: PublicBaseUrl::parse("PUBLIC_BASE_URL", env.required("PUBLIC_BASE_URL")?)?,
            branding: Branding::styled(
                env.get("PRODUCT_NAME").unwrap_or("profile-link"),
                env.get("OPERATOR_NAME").unwrap_or("Example Ltd"),
                support_email,
                portal_url,
                logo_url,
                accent.as_deref(),
            ),
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
    fn branding_takes_a_logo_and_a_readable_accent_colour() {
        let config =
            SiteConfig::from_env(&env(&[("ACCENT_COLOR", "#0B5"), ("LOGO_URL", "https://cdn.example.com/logo.svg")]));
        let err = config.unwrap_err();
        assert!(err.problem.contains("too light"), "{err}");
        let config = SiteConfig::from_env(&env(&[
            ("ACCENT_COLOR", "#0A4D2E"),
            ("LOGO_URL", "https://cdn.example.com/logo.svg"),
        ]))
        .unwrap();
        assert!(config.branding.stylesheet.ends_with(":root{--accent:#0a4d2e}\n"));
        assert_ne!(config.branding.stylesheet_csp, SiteConfig::from_env(&env(&[])).unwrap().branding.stylesheet_csp);
        assert_eq!(config.branding.logo_url.as_deref(), Some("https://cdn.example.com/logo.svg"));
        for (name, bad) in
            [("ACCENT_COLOR", "green"), ("ACCENT_COLOR", "#12345"), ("LOGO_URL", "http://cdn.example.com/l.png")]
        {
            assert_eq!(SiteConfig::from_env(&env(&[(name, bad)])).unwrap_err().variable, name);
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
