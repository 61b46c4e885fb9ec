//! Who is calling `/token`: the portal, authenticated the one way it
//! registered (`client_secret_basic`, `client_secret_post`, or none with PKCE).

use super::*;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenForm {
    pub(crate) grant_type: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) code_verifier: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
}

/// `Authorization: Basic` with the id and secret form-encoded first (RFC 6749 §2.3.1).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| ());
    let pair = decoded.and_then(|bytes| String::from_utf8(bytes).map_err(|_| ())).and_then(|text| {
        let (id, secret) = text.split_once(':').ok_or(())?;
        let decode =
            |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        Ok((decode(id).ok_or(())?, decode(secret).ok_or(())?))
    });
    Some(pair)
}

impl TokenApp {
    /// The client, authenticated the one way it registered.
    pub(crate) fn authenticate(&self, headers: &HeaderMap, form: &TokenForm) -> Result<&PortalClient, OAuthError> {
        let (id, secret, method) = match (basic_credentials(headers), &form.client_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::bad(OAuthErrorCode::InvalidRequest, "use one client authentication method"));
            }
            (Some(Err(())), _) => return Err(OAuthError::invalid_client("malformed Basic credentials")),
            (Some(Ok((id, secret))), None) => {
                if form.client_id.as_deref().is_some_and(|form_id| form_id != id) {
                    return Err(OAuthError::invalid_client("client_id differs from the authenticated client"));
                }
                (id, Some(secret), TokenEndpointAuth::ClientSecretBasic)
            }
            (None, Some(secret)) => {
                let id = form.client_id.clone().ok_or(OAuthError::invalid_client("client_id is missing"))?;
                (id, Some(secret.clone()), TokenEndpointAuth::ClientSecretPost)
            }
            (None, None) => {
                let id =
                    form.client_id.clone().ok_or(OAuthError::invalid_client("client authentication is missing"))?;
                (id, None, TokenEndpointAuth::None)
            }
        };
        let client = self.clients.get(&id).ok_or(OAuthError::invalid_client("unknown client"))?;
        if client.auth != method {
            tracing::warn!(
                client_id = client.id.as_str(),
                used = method.as_str(),
                "token request with another authentication method than registered"
            );
            return Err(OAuthError::invalid_client("not the client's registered authentication method"));
        }
        if let Some(secret) = secret {
            let expected = self.secrets.get(&client.id).expect("every confidential client has its secret");
            if !random::constant_time_eq(secret.as_bytes(), expected.expose().as_bytes()) {
                tracing::warn!(client_id = client.id.as_str(), "token request with a wrong client secret");
                return Err(OAuthError::invalid_client("wrong client secret"));
            }
        }
        Ok(client)
    }
}
