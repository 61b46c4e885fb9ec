//! `GET /.well-known/openid-configuration`: what profile-link announces to portals.

use super::*;

/// `GET /.well-known/openid-configuration`: the same for everyone, cacheable.
pub(crate) async fn discovery(State(app): State<Arc<TokenApp>>) -> Response {
    let mut response = Json(OpenIdConfiguration::for_issuer(&app.issuer())).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}
