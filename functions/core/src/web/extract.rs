//! What a browser handler receives already checked: who is asking
//! ([`Caller`]), in which language ([`Locale`]), the session its cookie holds
//! ([`SignedIn`]), and for a POST from one of this site's pages, the
//! signed-in session and its form with this session's CSRF token ([`CsrfForm`]). A request that fails a check is
//! answered by the extractor ([`BrowserError`]), so no handler repeats it.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;

use super::browser::BrowserCore;
use super::csrf_matches;
use super::pages::Problem;
use crate::domain::client_address::ClientAddresses;
use crate::domain::rate_limit::client_network;
use crate::i18n::{Locale, Text};
use crate::session::SessionClaims;

/// Who is asking: the client network the per-network limits count it under
/// (API Gateway's source address, or a trusted proxy's report of it, by
/// the app's [`ClientAddresses`]), and API Gateway's request id.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// An IPv4 address, an IPv6 /64, or `unknown` ([`client_network`]).
    pub network: String,
    pub request_id: Option<String>,
}

impl Caller {
    pub fn from_request(parts: &http::request::Parts, client_addresses: &ClientAddresses) -> Self {
        let (source_ip, request_id) = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.http.source_ip.as_deref(), ctx.request_id.clone()),
            _ => (None, None),
        };
        let address = client_addresses.client_address(source_ip, &parts.headers);
        Self { network: client_network(address.as_deref()), request_id }
    }

    /// API Gateway's id for the request, when it came through API Gateway.
    pub fn request_id(context: Option<&RequestContext>) -> Option<String> {
        match context {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
            _ => None,
        }
    }
}

impl<A> FromRequestParts<Arc<A>> for Caller
where
    A: Deref<Target = BrowserCore> + Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, app: &Arc<A>) -> Result<Self, Self::Rejection> {
        Ok(Self::from_request(parts, &app.client_addresses))
    }
}

/// The person's language, from `Accept-Language` (English when none of ours is asked for).
impl<S: Send + Sync> FromRequestParts<S> for Locale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::negotiate(parts.headers.get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())))
    }
}

/// The session a browser's cookie holds, verified (signature, key, expiry).
/// Taken as `Option<SignedIn>`: `None` when there is none that verifies.
/// Whether it was signed out since is the handler's to ask, beside what
/// else it reads from the table.
#[derive(Debug, Clone)]
pub struct SignedIn(pub SessionClaims);

impl<A> OptionalFromRequestParts<Arc<A>> for SignedIn
where
    A: Deref<Target = BrowserCore> + Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        app: &Arc<A>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(app.session(&CookieJar::from_headers(&parts.headers)).map(SignedIn))
    }
}

/// A form on one of this site's pages, as [`CsrfForm`] checks it: each form
/// says once where a signed-out person goes and what its refusals say.
pub trait CsrfProtected: DeserializeOwned + Send + 'static {
    /// Where a POST without a session that verifies sends the browser.
    const SIGN_IN: &'static str;

    /// The CSRF token the form carried.
    fn csrf(&self) -> Option<&str>;

    /// The page for a form that could not be read (`too_large`: over the body limit).
    fn unreadable(t: &'static Text, too_large: bool) -> Problem;

    /// The page for a missing or wrong CSRF token.
    fn forged(t: &'static Text) -> Problem;
}

/// A POST from one of this site's pages: a session that verifies, and its
/// form, readable and carrying that session's CSRF token. Whether the session
/// was signed out since is the handler's to ask, beside what else it reads.
#[derive(Debug)]
pub struct CsrfForm<T> {
    pub session: SessionClaims,
    pub form: T,
}

/// A browser request refused before its handler ran, already rendered.
#[derive(Debug)]
pub enum BrowserError {
    /// No session that verifies: to sign in (a session cookie that no longer
    /// verifies is removed on the way).
    SignedOut(Response),
    /// An unreadable form, or a CSRF token that is not this session's: a problem page.
    Refused(Response),
}

impl BrowserError {
    pub fn status(&self) -> StatusCode {
        match self {
            BrowserError::SignedOut(response) | BrowserError::Refused(response) => response.status(),
        }
    }
}

impl IntoResponse for BrowserError {
    fn into_response(self) -> Response {
        match self {
            BrowserError::SignedOut(response) | BrowserError::Refused(response) => response,
        }
    }
}

impl<A, T> FromRequest<Arc<A>> for CsrfForm<T>
where
    A: Deref<Target = BrowserCore> + Send + Sync + 'static,
    T: CsrfProtected,
{
    type Rejection = BrowserError;

    async fn from_request(request: Request, app: &Arc<A>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Ok(locale) = Locale::from_request_parts(&mut parts, app).await;
        let t = locale.text();
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(session) = app.session(&jar) else {
            let jar = app.clear_stale_session(jar);
            return Err(BrowserError::SignedOut((jar, Redirect::to(T::SIGN_IN)).into_response()));
        };
        let form = match Form::<T>::from_request(Request::from_parts(parts, body), app).await {
            Ok(Form(form)) => form,
            Err(rejection) => {
                let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
                return Err(BrowserError::Refused(app.problem(T::unreadable(t, too_large), t)));
            }
        };
        if !csrf_matches(&session, form.csrf()) {
            tracing::warn!(sid = &session.sid[..8], "POST refused: CSRF token missing or wrong");
            return Err(BrowserError::Refused(app.problem(T::forged(t), t)));
        }
        Ok(CsrfForm { session, form })
    }
}
