//! Upstream: profile-link as a relying party of the identity providers
//! people sign in with. `provider` is each provider's configuration and
//! quirks (issuer policy, re-authentication, client authentication, response
//! mode); `client` signs in at one provider (discovery, authorization request,
//! code exchange, ID token validation).

pub mod client;
pub mod provider;

pub use client::*;
pub use provider::*;
