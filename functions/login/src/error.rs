//! What can go wrong between `/login` and the callback, and the page each says.

use super::*;

/// Why a sign-in did not complete. Each maps to one clear page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoginError {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("callback without the browser-binding cookie")]
    OtherBrowser,
    #[error("no provider {0:?} is configured")]
    UnknownProvider(String),
    #[error("the response came back as the provider's response mode does not")]
    WrongResponseMode,
    #[error("a response for a sign-in started with provider {started:?} arrived at {arrived:?}'s callback")]
    OtherProvider { started: String, arrived: String },
    #[error("unknown, expired, reused or foreign state")]
    UnknownTransaction,
    #[error("identity provider returned error {0:?}")]
    ProviderSaidNo(String),
    #[error("too many sign-ins started from this network; retry in {0} s")]
    TooManySignIns(i64),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoginError {
    pub(crate) fn problem(&self, retry: &ReturnTo, t: &Text) -> Problem {
        let again = format!("/login?return_to={}", urlencode(retry.as_str()));
        let sign_in_again = |title: &str, message: &str| {
            Problem::new(StatusCode::BAD_REQUEST, title, message, (&again, t.action_sign_in_again))
        };
        match self {
            Self::Malformed(_) | Self::UnknownProvider(_) | Self::WrongResponseMode => {
                sign_in_again(t.login_incomplete_title, t.login_incomplete)
            }
            Self::OtherBrowser | Self::UnknownTransaction => sign_in_again(t.login_expired_title, t.login_expired),
            Self::ProviderSaidNo(error) if error == "access_denied" => {
                sign_in_again(t.login_cancelled_title, t.login_cancelled)
            }
            Self::ProviderSaidNo(_) | Self::Oidc(OidcError::CodeRejected(_)) => {
                sign_in_again(t.login_provider_failed_title, t.login_provider_failed)
            }
            Self::Oidc(OidcError::InvalidIdToken(_)) | Self::OtherProvider { .. } => {
                sign_in_again(t.login_unverified_title, t.login_unverified)
            }
            Self::TooManySignIns(retry_after) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                t.login_limited_title,
                fill(t.login_limited, &[("minutes", &((retry_after + 59) / 60))]),
                (&again, t.action_try_again),
            ),
            Self::Oidc(OidcError::Unavailable(_) | OidcError::Misconfigured(_)) | Self::Store(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                t.login_unavailable_title,
                t.unavailable,
                (&again, t.action_try_again),
            ),
        }
    }
}
