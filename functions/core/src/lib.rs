//! Shared code for profile-link's Lambda functions, organised by domain:
//! who the person is (`identity`, `session`), the two sides profile-link
//! stands between (`relying_party`: upstream, to the identity providers;
//! `openid_provider`: downstream, to the portals), what the service stores
//! (`store`), and how it answers (`web`, `pages`, `browser`).

pub mod aws;
pub mod browser;
pub mod clock;
pub mod config;
pub mod email;
pub mod i18n;
pub mod identity;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod openid_provider;
pub mod pages;
pub mod profile;
pub mod providers;
pub mod random;
pub mod rate_limit;
pub mod relying_party;
pub mod return_to;
pub mod secrets;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

pub use clock::{Clock, SystemClock};
pub use config::{ConfigError, Env, SiteConfig};
pub use email::RegisteredEmail;
pub use identity::{Identity, IdentityKey, IdentityProfile};
pub use return_to::ReturnTo;
pub use session::{SessionClaims, SessionKeys, SessionVerifier};
pub use store::Store;
