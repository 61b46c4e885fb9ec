//! A fault-injecting HTTP proxy for the local AWS servers. The functions' SDK
//! clients point every service at it; it forwards each call to the server for
//! its service (DynamoDB and its stream to DynamoDB Local, the rest to moto)
//! and, for a chosen share of them, answers the way a struggling AWS service
//! does: a throttling error, a 500, a connection closed without an answer, a
//! delay before forwarding, or what only real DynamoDB produces: a
//! transaction cancelled by a conflicting one (`TransactionConflict`), and
//! stream pages that are empty or cut short.
//!
//! Faults happen *before* a call reaches the emulator, so an injected fault
//! never leaves a half-applied write behind: a lost *response* to an applied
//! write is DynamoDB's idempotency token's job (the SDK fills
//! `ClientRequestToken` on `TransactWriteItems`; the emulator ignores it), and
//! the proxy records those tokens so tests can check they survive retries.
//!
//! Rules are matched in order; the first rule that matches a call *and* whose
//! share fires decides the fault. Shares are drawn from a seeded generator, or
//! taken as "every n-th matching call", so runs are repeatable.

mod answers;
mod inspect;
mod plan;
mod server;
mod stats;

pub use inspect::{Call, Service};
pub use plan::{Fault, Rule, RuleSyntaxError, Share};
pub use server::{FaultProxy, ProxyError, Upstreams};
pub use stats::Stats;
