//! Operator tooling for profile-link, as a library so tests drive the same code
//! the `profile-link-admin` binary runs.

pub mod audit;
pub mod doctor;
pub mod import;
pub mod keys;
pub mod links;
pub mod portals;
pub mod table;
