//! A portal as the tests and the bench play it: an OIDC client of
//! profile-link's provider side, doing by hand what a relying-party library
//! does (state, nonce and a PKCE S256 challenge on `/authorize`, the code
//! exchanged at `/token`), so each step can be varied.

use url::Url;

/// The demo portal as the local stack registers it (`PORTAL_CLIENTS`).
pub const DEMO_PORTAL: &str = "demo-portal";
pub const DEMO_SECRET: &str = "demo-portal-secret";
pub const DEMO_REDIRECT: &str = "http://127.0.0.1:3100/callback";
pub const DEMO_AFTER_LOGOUT: &str = "http://127.0.0.1:3100/";

/// Where profile-link is served: its origin, `http://127.0.0.1:3000` (no trailing slash).
pub trait Site {
    fn base(&self) -> &str;
}

impl Site for str {
    fn base(&self) -> &str {
        self
    }
}

/// One sign-in attempt's secrets, as the portal keeps them.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// What a portal was sent back that it would not accept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

impl Attempt {
    pub fn new() -> Self {
        let random = profile_link_core::random::secret_256;
        Self { state: random(), nonce: random(), verifier: random() }
    }

    pub fn challenge(&self) -> String {
        profile_link_core::random::sha256_b64(self.verifier.as_bytes())
    }

    /// `/authorize?…` for `client` with everything a well-behaved portal
    /// sends, `extra` added or replacing (an empty value leaves the parameter out).
    pub fn authorize_path(&self, client: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
        let challenge = self.challenge();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", redirect_uri),
            ("scope", "openid profile email"),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                pairs.push((name, value));
            }
        }
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        format!("/authorize?{query}")
    }

    /// `/authorize` for `client` with everything a well-behaved portal sends, `extra` added or replacing.
    pub fn url(&self, site: &(impl Site + ?Sized), client: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
        format!("{}{}", site.base(), self.authorize_path(client, redirect_uri, extra))
    }

    pub fn demo_url(&self, site: &(impl Site + ?Sized), extra: &[(&str, &str)]) -> String {
        self.url(site, DEMO_PORTAL, DEMO_REDIRECT, extra)
    }

    /// The code in `/authorize`'s redirect back to the portal at
    /// `redirect_uri`, which must echo this attempt's state and name `issuer` (RFC 9207).
    pub fn code_from(&self, location: &str, redirect_uri: &str, issuer: &str) -> Result<String, Refused> {
        let url = Url::parse(location).map_err(|_| Refused(format!("not a redirect to the portal: {location}")))?;
        if !location.starts_with(redirect_uri) {
            return Err(Refused(format!("redirected elsewhere than the portal: {location}")));
        }
        let param = |name: &str| url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned());
        if let Some(error) = param("error") {
            let description = param("error_description").unwrap_or_default();
            return Err(Refused(format!("the portal was sent {error}: {description}")));
        }
        if param("state").as_deref() != Some(self.state.as_str()) || param("iss").as_deref() != Some(issuer) {
            return Err(Refused(format!(
                "the redirect does not echo the state or name the issuer {issuer}: {location}"
            )));
        }
        param("code").ok_or_else(|| Refused(format!("no code in {location}")))
    }

    /// `POST /token`'s form for `code`, sent to the portal at `redirect_uri`.
    pub fn token_form(&self, code: &str, redirect_uri: &str) -> Vec<(String, String)> {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &self.verifier),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
    }
}

impl Default for Attempt {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT_URI: &str = "https://portal.example.com/callback";

    #[test]
    fn reads_the_code_only_from_an_answer_to_this_attempt() {
        let attempt = Attempt::new();
        let issuer = "http://127.0.0.1:3000";
        let answer = |state: &str| {
            let mut url = Url::parse(REDIRECT_URI).unwrap();
            url.query_pairs_mut().append_pair("code", "c0de").append_pair("state", state).append_pair("iss", issuer);
            url.to_string()
        };
        assert_eq!(attempt.code_from(&answer(&attempt.state), REDIRECT_URI, issuer).unwrap(), "c0de");
        assert!(attempt.code_from(&answer("another"), REDIRECT_URI, issuer).is_err());
        assert!(attempt.code_from(&answer(&attempt.state), REDIRECT_URI, "http://other").is_err());
        assert!(attempt.code_from("/login?return_to=%2Fauthorize", REDIRECT_URI, issuer).is_err());
        assert!(attempt.code_from(&answer(&attempt.state), DEMO_REDIRECT, issuer).is_err());
    }

    #[test]
    fn the_challenge_is_the_verifiers_sha256() {
        let attempt = Attempt::new();
        let path = attempt.authorize_path("bench-portal", REDIRECT_URI, &[]);
        let url = Url::parse(&format!("http://x{path}")).unwrap();
        let challenge = url.query_pairs().find(|(n, _)| n == "code_challenge").unwrap().1.into_owned();
        assert_eq!(challenge, profile_link_core::random::sha256_b64(attempt.verifier.as_bytes()));
        assert_eq!(challenge, attempt.challenge());
        assert_eq!(challenge.len(), 43);
    }

    #[test]
    fn extra_parameters_are_added_replaced_or_left_out() {
        let attempt = Attempt::new();
        let url = attempt.demo_url("http://127.0.0.1:3000", &[("prompt", "login"), ("nonce", "n"), ("state", "")]);
        let url = Url::parse(&url).unwrap();
        assert_eq!(url.path(), "/authorize");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("client_id"), Some(DEMO_PORTAL));
        assert_eq!(get("redirect_uri"), Some(DEMO_REDIRECT));
        assert_eq!(get("prompt"), Some("login"));
        assert_eq!(get("nonce"), Some("n"));
        assert_eq!(get("state"), None);
    }
}
