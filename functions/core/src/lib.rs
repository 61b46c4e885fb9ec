//! Shared code for profile-link's Lambda functions, in layers (each imports
//! only the ones listed before it):
//!
//! - foundation: `config`, `clock`, `random`, `secrets`, `aws`, `i18n`,
//!   `telemetry`, `metrics`;
//! - `domain`: the vocabulary every side shares (identities, registered
//!   addresses, profiles, link tokens, rate limits);
//! - `store`: the one DynamoDB table, one file per item kind;
//! - `session`: the signing keys and the browser session they sign;
//! - the two protocol sides: `upstream` (the relying party to the identity
//!   providers) and `downstream` (the OpenID Provider to the portals);
//! - `mail`: the emails and the SES sender;
//! - `linking`: the use cases between the sides (sending the emails);
//! - `web`: cookies, extractors, pages, the browser handlers' shared state;
//! - `startup`: what each function builds once per cold start.
//!
//! See ARCHITECTURE.md at the repository's root for the map.

pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod downstream;
pub mod i18n;
pub mod linking;
pub mod mail;
pub mod metrics;
pub mod random;
pub mod secrets;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod web;

pub use clock::{Clock, SystemClock};
pub use config::{ConfigError, Env, SiteConfig};
pub use domain::email::RegisteredEmail;
pub use domain::identity::{Identity, IdentityKey, IdentityProfile};
pub use domain::return_to::ReturnTo;
pub use session::{SessionClaims, SessionKeys, SessionVerifier};
pub use store::Store;
