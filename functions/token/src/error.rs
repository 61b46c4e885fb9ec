//! An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3.1), never cached.

use super::*;

/// An OAuth error answer (RFC 6749 §5.2), never cached.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    /// `None` when the request carried no credentials at all: RFC 6750 §3.1
    /// then wants no error information, only the challenge.
    pub(crate) error: Option<OAuthErrorCode>,
    pub(crate) description: &'static str,
    /// `WWW-Authenticate` for a 401.
    pub(crate) challenge: Option<&'static str>,
}

impl OAuthError {
    pub(crate) fn bad(error: OAuthErrorCode, description: &'static str) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: Some(error), description, challenge: None }
    }

    pub(crate) fn invalid_client(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: Some(OAuthErrorCode::InvalidClient),
            description,
            challenge: Some("Basic realm=\"profile-link\""),
        }
    }

    /// No credentials at all: the challenge alone, with no error (RFC 6750 §3.1).
    pub(crate) fn no_token() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: None,
            description: "send the access token as Authorization: Bearer",
            challenge: Some("Bearer realm=\"profile-link\""),
        }
    }

    pub(crate) fn invalid_token(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: Some(OAuthErrorCode::InvalidToken),
            description,
            challenge: Some("Bearer realm=\"profile-link\", error=\"invalid_token\""),
        }
    }

    pub(crate) fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: Some(OAuthErrorCode::TemporarilyUnavailable),
            description: "the table did not answer; try again",
            challenge: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = match self.error {
            Some(error) => serde_json::json!({ "error": error, "error_description": self.description }),
            None => serde_json::json!({ "error_description": self.description }),
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers
                .insert(header::RETRY_AFTER, HeaderValue::from(profile_link_core::web::pages::RETRY_UNAVAILABLE_AFTER));
        }
        response
    }
}
