//! Linking: the use cases between the two sides, each a function that
//! returns what happened as a closed type for a handler to render or count.
//! `request` asks for links and renews an expired one (seed steps 4–5),
//! `send` sends the emails the table holds (seed step 6), `redeem` confirms a
//! link (seed step 9), `unlink` removes one from the account page, and
//! `not_me` cancels a request from the inbox.

pub mod not_me;
pub mod redeem;
pub mod request;
pub mod send;
pub mod unlink;
