//! An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3.1), never cached.

use super::*;

/// An OAuth error answer (RFC 6749 §5.2), never cached.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: OAuthErrorCode,
    pub(crate) description: &'static str,
    /// `WWW-Authenticate` for a 401.
    pub(crate) challenge: Option<&'static str>,
}

impl OAuthError {
    pub(crate) fn bad(error: OAuthErrorCode, description: &'static str) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, description, challenge: None }
    }

    pub(crate) fn invalid_client(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: OAuthErrorCode::InvalidClient,
            description,
            challenge: Some("Basic realm=\"profile-link\""),
        }
    }

    pub(crate) fn invalid_token(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: OAuthErrorCode::InvalidToken,
            description,
            challenge: Some("Bearer error=\"invalid_token\""),
        }
    }

    pub(crate) fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: OAuthErrorCode::TemporarilyUnavailable,
            description: "the table did not answer; try again",
            challenge: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "error_description": self.description });
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
