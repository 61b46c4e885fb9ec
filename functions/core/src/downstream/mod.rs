//! Downstream: profile-link as the OpenID Provider of the company's portals,
//! as protocol free of I/O. `clients` are the registered portals,
//! `authorize` checks a portal's authorization request and shapes the answers
//! sent back, `errors` the RFCs' error codes, `grant` is what a code was issued for, `tokens` what the tokens
//! say, `discovery` what profile-link announces. The `authorize` and `token`
//! functions are its two HTTP faces.

pub mod authorize;
pub mod clients;
pub mod discovery;
pub mod errors;
pub mod grant;
pub mod logout;
pub mod tokens;

pub use authorize::*;
pub use clients::*;
pub use discovery::*;
pub use errors::OAuthErrorCode;
pub use grant::Grant;
pub use logout::{LOGOUT_TOKEN_TYPE, LogoutTokenClaims};
pub use tokens::*;
