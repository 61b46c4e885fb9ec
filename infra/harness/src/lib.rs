//! The harness that the integration tests (`tests/support`), the load driver
//! (`tests/load`), the bench (`infra/bench`) and the dev server
//! (`infra/dev-server`) share, each piece written once:
//!
//! - [`browser`]: a cookie-jar browser that follows redirects and submits
//!   HTML forms, the form parser, and the cookie jar of a client that builds
//!   its own requests;
//! - [`portal`]: a portal's sign-in attempt at profile-link's OpenID Provider;
//! - [`apigw`]: API Gateway's HTTP API event for a request, and the answer read back;
//! - [`stream`]: the table's stream read as the event source mapping reads
//!   it, with template.yaml's one filter;
//! - [`ses_events`]: the bounce and complaint notifications SES would publish.
//!
//! Local only: no Lambda function crate depends on it, so none of it ships
//! in a function's binary.

pub mod apigw;
pub mod browser;
pub mod portal;
pub mod ses_events;
pub mod stream;
