//! The vocabulary every layer shares, each type parsed once and valid from
//! then on: who signed in (`identity`), the address a customer system holds
//! (`email`), its profiles (`profile`), the split tokens in emailed links
//! (`link_token`), which identity provider (`provider_id`), where a browser
//! returns (`return_to`), what an email is about (`mail_subject`), the
//! business limits on requests (`rate_limit`) and which address a request is
//! counted under (`client_address`). Nothing here does I/O.

pub mod client_address;
pub mod email;
pub mod identity;
pub mod link_token;
pub mod mail_subject;
pub mod profile;
pub mod provider_id;
pub mod rate_limit;
pub mod return_to;
