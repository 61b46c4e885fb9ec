//! Upstream: profile-link as a relying party of the identity providers
//! people sign in with. `provider` is each provider's configuration and
//! quirks (issuer policy, re-authentication, client authentication, response
//! mode); `client` signs in at one provider (authorization request, code
//! exchange), `discovery` reads its metadata and keys, `id_token` validates
//! what it answers.

pub mod client;
pub mod discovery;
pub mod id_token;
pub mod issuer;
pub mod provider;

pub use client::*;
pub use id_token::VerifiedIdToken;
pub use issuer::{EntraAccounts, IssuerPolicy, IssuerRejected, MICROSOFT_CONSUMER_TENANT, TrustedIssuer, is_tenant_id};
pub use provider::*;
