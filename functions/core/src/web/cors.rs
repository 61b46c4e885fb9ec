//! Cross-origin reads for browser-only portals (public clients,
//! `token_endpoint_auth_method: none`): a single-page app on its own origin
//! calls discovery, JWKS, `/token` and `/userinfo` with `fetch()`, and the
//! browser hands it the answer only when the response allows its origin.
//!
//! No response here ever allows credentials: these endpoints take no
//! cookies (a code and its verifier, or a bearer token, travel in the
//! request itself), so a page elsewhere cannot act with a person's session.

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::downstream::PortalClients;

/// How long a browser may keep a preflight's answer: ten minutes (Chromium's own cap is two hours).
const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Discovery and JWKS: public documents that anyone can fetch from a server
/// anyway, answered to every origin (`*`) and without credentials, so a
/// browser never attaches cookies and the answer says nothing about who asks.
/// A list of origins would add nothing but a way to get it wrong.
pub fn public_documents() -> CorsLayer {
    CorsLayer::new().allow_origin(AllowOrigin::any()).allow_methods([Method::GET]).max_age(PREFLIGHT_MAX_AGE)
}

/// `/token` and `/userinfo`: only the origins of the public clients'
/// registered redirect URIs (scheme://host:port), echoed back when they ask;
/// any other origin gets no `Access-Control-Allow-Origin`, so its page cannot
/// read the answer. `Authorization` (a bearer token, Basic for a confidential
/// client) and `Content-Type` (the form) may be sent; never credentials.
pub fn public_clients(clients: &PortalClients) -> CorsLayer {
    let origins: Vec<HeaderValue> =
        clients.browser_origins().iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_credentials(false)
        // /userinfo's challenge (RFC 6750 §3), which a page needs to tell an expired token from a refusal.
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(PREFLIGHT_MAX_AGE)
}
