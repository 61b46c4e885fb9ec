//! Each identity provider's discovery document, fetched and checked by the
//! relying party the login function runs (`OidcClient::check_discovery`):
//! reachable, naming the configured issuer, and offering the client
//! authentication and response mode the list asks for.

use profile_link_core::upstream::{IdentityProviders, OidcClient, OidcError, ResponseMode};

use super::Check;

pub(super) async fn discovery(providers: &IdentityProviders) -> Vec<Check> {
    futures::future::join_all(providers.iter().map(one)).await
}

async fn one(client: &OidcClient) -> Check {
    let provider = client.provider();
    let check = format!("provider {}", provider.id.as_str());
    let response_mode = match provider.response_mode {
        ResponseMode::Query => "query",
        ResponseMode::FormPost => "form_post",
    };
    match client.check_discovery().await {
        Ok(keys) => Check::ok(
            check,
            format!(
                "discovery at {} agrees with client_auth {} and response_mode {response_mode}; {keys} signing key(s)",
                provider.issuer,
                provider.client_auth.as_str()
            ),
        ),
        Err(error @ OidcError::Unavailable(_)) => Check::fail(
            check,
            error.to_string(),
            "nobody signs in with it: check the issuer in the provider list, and that the provider is up and reachable from AWS",
        ),
        Err(error) => Check::fail(
            check,
            error.to_string(),
            "its sign-in fails: change the entry's issuer, client_auth or response_mode to what the provider offers, or enable it at the provider",
        ),
    }
}
