//! The `token` function: the server-to-server side of profile-link as the
//! portals' OpenID Provider. `GET /.well-known/openid-configuration`
//! (discovery), `POST /token` (a code for an ID token and an access token:
//! client authenticated, the code used once, bound to client, redirect URI
//! and PKCE) and `GET|POST /userinfo` (the person, with their profiles read
//! fresh from the table). Its callers are portals' servers, not browsers:
//! every answer is JSON.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::domain::identity::Identity;
use profile_link_core::downstream::{
    self, ACCESS_TOKEN_TTL_SECONDS, AccessTokenClaims, ClientId, Grant, ID_TOKEN_TTL_SECONDS, IdTokenClaims,
    OAuthErrorCode, OpenIdConfiguration, PersonClaims, PortalClient, PortalClients, ProfileClaim, TokenEndpointAuth,
    USERINFO_PURPOSE,
};
use profile_link_core::random;
use profile_link_core::secrets::Secret;
use profile_link_core::session::SessionKeys;
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::codes::CodeTaken;
use profile_link_core::web;
use profile_link_core::{Clock, Store, SystemClock};
use serde::{Deserialize, Serialize};

mod client_auth;
mod discovery;
mod error;
mod exchange;
mod userinfo;

use client_auth::*;
use discovery::*;
use error::*;
use exchange::*;
use userinfo::*;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "token";

/// Everything the token function needs, built once per cold start.
pub struct TokenApp {
    pub site: SiteConfig,
    pub store: Store,
    /// Signs ID tokens and access tokens.
    pub keys: Arc<SessionKeys>,
    pub clients: Arc<PortalClients>,
    /// Each confidential client's secret.
    secrets: HashMap<ClientId, Secret>,
    pub clock: Arc<dyn Clock>,
}

impl TokenApp {
    /// The signing key and client list in one SSM call, the clients' secrets in a second.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (keys, mut others) =
            startup::session_keys_and_secrets(env, sdk, &site, &[downstream::PORTAL_CLIENTS]).await?;
        let clients = startup::portal_clients(&others.remove(0), FUNCTION)?;
        let (clients, secrets) = startup::portal_client_secrets(env, sdk, clients, FUNCTION).await?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self::new(site, store, Arc::new(keys), Arc::new(clients), secrets, Arc::new(SystemClock)))
    }

    /// Opens the table's connection during init with a read `/userinfo`
    /// makes: a code nobody has.
    pub async fn warm_up(env: &Env, sdk: &aws_config::SdkConfig) {
        startup::open_table_connection(env, sdk, |store| async move {
            store.grant_for_access_token::<Grant>(startup::WARM_UP_KEY).await
        })
        .await;
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        keys: Arc<SessionKeys>,
        clients: Arc<PortalClients>,
        secrets: HashMap<ClientId, Secret>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { site, store, keys, clients, secrets, clock }
    }

    fn issuer(&self) -> String {
        self.site.public_base_url.origin()
    }
}

pub fn router(app: Arc<TokenApp>) -> Router {
    let site = app.site.clone();
    // A browser-only portal calls these from its own origin: discovery is a
    // public document, /token and /userinfo answer its registered origins only.
    let document =
        Router::new().route("/.well-known/openid-configuration", get(discovery)).layer(web::cors::public_documents());
    let cors = web::cors::public_clients(&app.clients);
    let routes = Router::new()
        .route("/token", axum::routing::post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .layer(cors)
        .merge(document)
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}
