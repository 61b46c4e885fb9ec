//! The portal the bench plays: a client of profile-link's OpenID Provider
//! (the `authorize` and `token` functions), doing by hand what a relying
//! party's library does, as `tests/support/portal.rs` does: state, nonce and
//! a PKCE S256 challenge on `/authorize`, the code exchanged at `/token` with
//! Basic authentication, the access token sent to `/userinfo`.

use anyhow::{Context, bail};
use profile_link_core::random;
use url::Url;

/// The bench's one registered portal (`PORTAL_CLIENTS`, in SSM as the template has it).
pub const CLIENT_ID: &str = "bench-portal";
pub const CLIENT_SECRET: &str = "bench-portal-client-secret";
/// Never requested: the bench reads the code from the redirect to it.
pub const REDIRECT_URI: &str = "https://portal.example.com/callback";
/// How `/authorize`'s answer with a code begins (the code first, then state and iss).
pub const CODE_REDIRECT: &str = "https://portal.example.com/callback?code=";

/// The `PORTAL_CLIENTS` list: the bench's portal, its secret in SSM at `secret_parameter`.
pub fn clients_json(secret_parameter: &str) -> String {
    serde_json::json!([{
        "id": CLIENT_ID, "name": "Bench portal", "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "client_secret_basic", "client_secret_parameter": secret_parameter,
    }])
    .to_string()
}

/// One sign-in attempt's secrets, as the portal keeps them.
pub struct Attempt {
    state: String,
    nonce: String,
    verifier: String,
}

impl Attempt {
    pub fn new() -> Self {
        Self { state: random::secret_256(), nonce: random::secret_256(), verifier: random::secret_256() }
    }

    /// `/authorize?…` with everything a well-behaved portal sends.
    pub fn authorize_path(&self) -> String {
        let challenge = random::sha256_b64(self.verifier.as_bytes());
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("/authorize?{query}")
    }

    /// The code in `/authorize`'s redirect back to the portal, which must
    /// echo this attempt's state and name `issuer` (RFC 9207).
    pub fn code_from(&self, location: &str, issuer: &str) -> anyhow::Result<String> {
        let url = Url::parse(location).with_context(|| format!("not a redirect to the portal: {location}"))?;
        if !location.starts_with(REDIRECT_URI) {
            bail!("redirected elsewhere than the portal: {location}");
        }
        let param = |name: &str| url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned());
        if let Some(error) = param("error") {
            bail!("the portal was sent {error}: {}", param("error_description").unwrap_or_default());
        }
        if param("state").as_deref() != Some(self.state.as_str()) || param("iss").as_deref() != Some(issuer) {
            bail!("the redirect does not echo the state or name the issuer {issuer}: {location}");
        }
        param("code").with_context(|| format!("no code in {location}"))
    }

    /// `POST /token`'s form for `code`.
    pub fn token_form(&self, code: &str) -> Vec<(String, String)> {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &self.verifier),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
    }
}

/// The portal's `Authorization` at `/token` (RFC 6749 §2.3.1; id and secret need no form-encoding).
pub fn basic_authorization() -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")))
}

/// Headers of a request from the portal's server, not a browser.
pub fn server_headers(authorization: &str) -> [(&'static str, String); 2] {
    [("authorization", authorization.to_owned()), ("accept", "application/json".to_owned())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_code_only_from_an_answer_to_this_attempt() {
        let attempt = Attempt::new();
        let issuer = "http://127.0.0.1:3000";
        let answer = |state: &str| {
            let mut url = Url::parse(REDIRECT_URI).unwrap();
            url.query_pairs_mut().append_pair("code", "c0de").append_pair("state", state).append_pair("iss", issuer);
            url.to_string()
        };
        assert_eq!(attempt.code_from(&answer(&attempt.state), issuer).unwrap(), "c0de");
        assert!(attempt.code_from(&answer("another"), issuer).is_err());
        assert!(attempt.code_from(&answer(&attempt.state), "http://other").is_err());
        assert!(attempt.code_from("/login?return_to=%2Fauthorize", issuer).is_err());
    }

    #[test]
    fn a_code_redirect_is_one_to_the_registered_uri() {
        assert_eq!(CODE_REDIRECT.strip_suffix("?code="), Some(REDIRECT_URI));
    }

    #[test]
    fn the_challenge_is_the_verifiers_sha256() {
        let attempt = Attempt::new();
        let path = attempt.authorize_path();
        let url = Url::parse(&format!("http://x{path}")).unwrap();
        let challenge = url.query_pairs().find(|(n, _)| n == "code_challenge").unwrap().1.into_owned();
        assert_eq!(challenge, random::sha256_b64(attempt.verifier.as_bytes()));
        assert_eq!(challenge.len(), 43);
    }
}
