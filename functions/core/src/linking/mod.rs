//! Linking: the use cases between the two sides, each a function that
//! returns what happened as a closed type for a handler to render or count.
//! `send` sends the emails the table holds (seed step 6); `redeem` confirms
//! a link (seed step 9).

pub mod redeem;
pub mod send;
