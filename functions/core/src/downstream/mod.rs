//! Downstream: profile-link as the OpenID Provider of the company's portals.
//! `portal` holds the registered clients, the authorization request's checks,
//! the tokens' claims and the discovery document.

pub mod portal;

pub use portal::*;
