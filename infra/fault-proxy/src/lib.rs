//! A fault-injecting HTTP proxy for the local AWS servers. The functions' SDK
//! clients point every service at it; it forwards each call to the server for
//! its service (DynamoDB and its stream to DynamoDB Local, the rest to moto)
//! and, for a chosen share of them, answers the way a struggling AWS service
//! does: a throttling error, a 500, a connection closed without an answer, a
//! delay before forwarding, an answer held back after forwarding, or what only real DynamoDB produces: a
//! transaction cancelled by a conflicting one (`TransactionConflict`), and
//! stream pages that are empty or cut short. It also plays an account's
//! limits, which the emulator does not have: a rate (`ratelimit=14/s`) and a
//! quota that runs out and comes back (`quota=500/60s`).
//!
//! Faults happen *before* a call reaches the emulator (but for `late`, which
//! holds back a whole answer), so an injected fault never leaves a
//! half-applied write behind: a lost *response* to an applied
//! write is DynamoDB's idempotency token's job (the SDK fills
//! `ClientRequestToken` on `TransactWriteItems`; the emulator ignores it), and
//! the proxy records those tokens so tests can check they survive retries.
//!
//! Rules are matched in order; the first rule that matches a call *and* whose
//! share fires (or whose limit refuses it) decides the fault. Shares are drawn
//! from a seeded generator, or taken as "every n-th matching call", so runs
//! are repeatable. What it did, by operation and outcome, is [`Stats`], also
//! served as JSON at [`STATS_PATH`] while it runs.

mod answers;
mod inspect;
mod limits;
mod plan;
mod server;
mod stats;

pub use inspect::{Call, Service};
pub use limits::{Quota, Rate};
pub use plan::{Fault, Rule, RuleSyntaxError, Share};
pub use server::{FaultProxy, ProxyError, STATS_PATH, Upstreams};
pub use stats::Stats;
