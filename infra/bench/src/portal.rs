//! The portal the bench plays: a client of profile-link's OpenID Provider
//! (the `authorize` and `token` functions), doing by hand what a relying
//! party's library does, with the tests' sign-in attempt (the harness's
//! `portal::Attempt`): state, nonce and a PKCE S256 challenge on
//! `/authorize`, the code exchanged at `/token` with Basic authentication,
//! the access token sent to `/userinfo`.

use profile_link_harness::portal;

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

/// One sign-in attempt of the bench's portal: the harness's, for its one registered client.
pub struct Attempt(portal::Attempt);

impl Attempt {
    pub fn new() -> Self {
        Self(portal::Attempt::new())
    }

    /// `/authorize?…` with everything a well-behaved portal sends.
    pub fn authorize_path(&self) -> String {
        self.0.authorize_path(CLIENT_ID, REDIRECT_URI, &[])
    }

    /// The code in `/authorize`'s redirect back to the portal, which must
    /// echo this attempt's state and name `issuer` (RFC 9207).
    pub fn code_from(&self, location: &str, issuer: &str) -> anyhow::Result<String> {
        Ok(self.0.code_from(location, REDIRECT_URI, issuer)?)
    }

    /// `POST /token`'s form for `code`.
    pub fn token_form(&self, code: &str) -> Vec<(String, String)> {
        self.0.token_form(code, REDIRECT_URI)
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
    fn a_code_redirect_is_one_to_the_registered_uri() {
        assert_eq!(CODE_REDIRECT.strip_suffix("?code="), Some(REDIRECT_URI));
    }

    #[test]
    fn the_attempt_is_the_registered_clients() {
        let attempt = Attempt::new();
        let url = url::Url::parse(&format!("http://x{}", attempt.authorize_path())).unwrap();
        let param = |name: &str| url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned());
        assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
        assert_eq!(param("redirect_uri").as_deref(), Some(REDIRECT_URI));
        assert_eq!(param("code_challenge"), Some(attempt.0.challenge()));
        let form = attempt.token_form("c0de");
        assert!(form.contains(&("redirect_uri".into(), REDIRECT_URI.into())), "{form:?}");
        assert!(form.contains(&("code_verifier".into(), attempt.0.verifier.clone())), "{form:?}");
        let answer = format!("{CODE_REDIRECT}c0de&state={}&iss=http%3A%2F%2F127.0.0.1%3A3000", attempt.0.state);
        assert_eq!(attempt.code_from(&answer, "http://127.0.0.1:3000").unwrap(), "c0de");
    }
}
