//! The SSM parameters every function reads at cold start: present, and
//! parsed by the functions' own code (a value the doctor accepts is one the
//! functions start with).

use profile_link_core::config::{Branding, Env, PublicBaseUrl, SiteConfig};
use profile_link_core::secrets::{self, Secret};
use profile_link_core::startup;
use profile_link_core::upstream::{IdentityProviders, Providers};
use profile_link_core::{SessionKeys, SessionVerifier};

use super::{Check, Stack, keys};

/// What the parameters hold, for the checks that go on from them.
#[derive(Default)]
pub(super) struct Read {
    pub providers: Option<IdentityProviders>,
    pub signing_keys: Option<SessionKeys>,
}

/// A standard SSM String holds at most 4 KB; past 90 % the next edit may not fit.
const STANDARD_PARAMETER_BYTES: usize = 4096;
const ADVANCED_PARAMETER_BYTES: usize = 8192;

pub(super) async fn read(sdk: &aws_config::SdkConfig, stack: &Stack, checks: &mut Vec<Check>) -> Read {
    let names = [
        stack.providers_parameter.clone(),
        stack.portals.clients_parameter.clone(),
        stack.signing_key_parameter.clone(),
        stack.public_keys_parameter.clone(),
    ];
    let (found, missing) = match secrets::fetch_existing_parameters(sdk, &names).await {
        Ok(read) => read,
        Err(error) => {
            checks.push(Check::fail(
                "SSM parameters",
                error.to_string(),
                "check the region and credentials, and that they may ssm:GetParameters and kms:Decrypt",
            ));
            return Read::default();
        }
    };
    let mut present = |check: &str, name: &str, create: &str| -> Option<Secret> {
        if missing.iter().any(|m| m == name) {
            checks.push(Check::fail(check, format!("{name} is not in SSM, or has no value"), create.to_owned()));
        }
        found.get(name).cloned()
    };
    let providers_list = present(
        "providers list",
        &stack.providers_parameter,
        "create it as a String with the provider list (docs/operating.md#identity-providers)",
    );
    let portal_list = present(
        "portal clients",
        &stack.portals.clients_parameter,
        "register a portal with profile-link-admin portals add (it creates the list)",
    );
    let signing_pem = present(
        "signing keys",
        &stack.signing_key_parameter,
        "create it as a SecureString from profile-link-admin keys generate",
    );
    let public_jwks = present(
        "public keys",
        &stack.public_keys_parameter,
        "create it as a String from profile-link-admin keys public (or run keys rotate)",
    );

    let mut read = Read::default();
    if let Some(list) = providers_list {
        read.providers = providers(sdk, stack, &list, checks).await;
    }
    if let Some(list) = portal_list {
        portal_clients(sdk, stack, &list, checks).await;
    }
    if let Some(pem) = signing_pem {
        read.signing_keys = match SessionKeys::from_pem("", pem.expose()) {
            Ok(keys) => {
                checks.push(Check::ok(
                    "signing keys",
                    format!("{}: {}", stack.signing_key_parameter, keys::described(keys.jwks())),
                ));
                Some(keys)
            }
            Err(error) => {
                checks.push(Check::fail(
                    "signing keys",
                    format!("{}: SESSION_SIGNING_KEY: {error}", stack.signing_key_parameter),
                    "no function that signs starts: put the output of profile-link-admin keys generate there",
                ));
                None
            }
        };
    }
    if let Some(jwks) = public_jwks {
        checks.push(public_keys(stack, &jwks, read.signing_keys.as_ref()));
    }
    read
}

/// The providers list, as the login function parses it, and each provider's
/// secret or key, read and loaded as it reads them.
async fn providers(
    sdk: &aws_config::SdkConfig,
    stack: &Stack,
    list: &Secret,
    checks: &mut Vec<Check>,
) -> Option<IdentityProviders> {
    let name = &stack.providers_parameter;
    let parsed = match Providers::parse(list.expose()) {
        Ok(parsed) => parsed,
        Err(error) => {
            checks.push(Check::fail(
                "providers list",
                format!("{name}: {error}"),
                "the login function does not start: correct the list (docs/operating.md#identity-providers)",
            ));
            return None;
        }
    };
    let ids: Vec<&str> = parsed.iter().map(|p| p.id.as_str()).collect();
    checks.push(Check::ok("providers list", format!("{name}: {} provider(s): {}", ids.len(), ids.join(", "))));
    checks.extend(size_warning("providers list", name, list));
    let env = Env::from_pairs([("PROVIDER_SECRETS_PATH", stack.provider_secrets_path.as_str())]);
    match startup::identity_providers(&env, sdk, &site(stack), list).await {
        Ok(providers) => {
            checks.push(Check::ok(
                "provider secrets",
                format!(
                    "every provider's secret or key is readable and usable (under {})",
                    stack.provider_secrets_path
                ),
            ));
            Some(providers)
        }
        Err(error) => {
            checks.push(Check::fail(
                "provider secrets",
                error.to_string(),
                format!(
                    "the login function does not start: put the secret (a SecureString) under {}",
                    stack.provider_secrets_path
                ),
            ));
            None
        }
    }
}

/// The portal clients as `portals check` judges them: the functions' parser
/// and their read of each confidential client's secret.
async fn portal_clients(sdk: &aws_config::SdkConfig, stack: &Stack, list: &Secret, checks: &mut Vec<Check>) {
    let name = &stack.portals.clients_parameter;
    match crate::portals::check(sdk, &stack.portals, list.expose()).await {
        Ok((kept, refused)) => {
            if kept.is_empty() && refused.is_empty() {
                checks.push(Check::warn(
                    "portal clients",
                    format!("{name} lists no portal"),
                    "nobody can sign in to a portal yet: profile-link-admin portals add",
                ));
            } else {
                checks.push(Check::ok("portal clients", format!("{name}: {} client(s) work: {}", kept.len(), kept.join(", "))));
            }
            for refusal in refused {
                checks.push(Check::fail(
                    "portal client",
                    refusal.to_string(),
                    "the functions leave it out (alarm PortalClientRefused): correct the entry, or remove it with profile-link-admin portals remove",
                ));
            }
            checks.extend(size_warning("portal clients", name, list));
        }
        Err(error) => checks.push(Check::fail(
            "portal clients",
            format!("{name}: {error:#}"),
            "authorize, token and notify-portals do not start: correct the list (profile-link-admin portals check --file)",
        )),
    }
}

/// The public keys the verify-only functions read, as they parse them, and
/// whether they are the signing keys' public part.
fn public_keys(stack: &Stack, jwks: &Secret, signing: Option<&SessionKeys>) -> Check {
    let name = &stack.public_keys_parameter;
    let verifier = match SessionVerifier::from_jwks("", jwks.expose()) {
        Ok(verifier) => verifier,
        Err(error) => {
            return Check::fail(
                "public keys",
                format!("{name}: SESSION_PUBLIC_KEYS: {error}"),
                "request-association and authorize do not start: run profile-link-admin keys rotate, or write keys public's output there",
            );
        }
    };
    let Some(signing) = signing else {
        return Check::ok("public keys", format!("{name}: {}", keys::described(verifier.jwks())));
    };
    match keys::difference(signing.jwks(), verifier.jwks()) {
        None => Check::ok("public keys", format!("{name}: the signing keys' public part")),
        Some(difference) => Check::fail(
            "public keys",
            format!("{name} is not the signing keys' public part: {difference}"),
            "sessions signed by one function fail in another: write the output of keys public (from the signing keys) there",
        ),
    }
}

fn size_warning(check: &str, name: &str, value: &Secret) -> Option<Check> {
    let bytes = value.expose().len();
    // Past 4 KB it is already Advanced, whose limit is 8 KB.
    let (tier, limit) = if bytes > STANDARD_PARAMETER_BYTES {
        ("an advanced", ADVANCED_PARAMETER_BYTES)
    } else {
        ("a standard", STANDARD_PARAMETER_BYTES)
    };
    (bytes * 10 > limit * 9).then(|| {
        Check::warn(
            check,
            format!("{name} holds {bytes} of the {limit} bytes {tier} parameter may"),
            "the next entry may not fit: write it with --tier Intelligent-Tiering (keys rotate and portals add do)",
        )
    })
}

/// The site as far as reading the providers needs it: only the public base
/// URL matters there (each provider's callback URI).
fn site(stack: &Stack) -> SiteConfig {
    let placeholder =
        || PublicBaseUrl::parse("PUBLIC_BASE_URL", "https://profile-link.invalid").expect("a valid origin");
    let public_base_url = stack
        .public_base_url
        .as_deref()
        .and_then(|url| PublicBaseUrl::parse("PUBLIC_BASE_URL", url).ok())
        .unwrap_or_else(placeholder);
    SiteConfig {
        table_name: String::new(),
        public_base_url,
        branding: Branding::new("profile-link", "doctor", "doctor@profile-link.invalid"),
        session_ttl_seconds: 3600,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_near_its_tiers_limit_is_a_warning_and_an_advanced_one_is_judged_by_8_kb() {
        let sized = |bytes: usize| size_warning("portal clients", "/p", &Secret::new("x".repeat(bytes)));
        assert!(sized(3600).is_none(), "3600 of 4096 bytes is room enough");
        let near = sized(3800).expect("3800 of 4096 bytes warns");
        assert_eq!(near.detail, "/p holds 3800 of the 4096 bytes a standard parameter may", "{near:?}");
        assert!(near.action.as_deref().is_some_and(|a| a.contains("Intelligent-Tiering")), "{near:?}");
        assert!(sized(5700).is_none(), "a rotated key set (5.7 KB) is advanced already: room to 8 KB");
        let full = sized(7800).expect("7800 of 8192 bytes warns");
        assert_eq!(full.detail, "/p holds 7800 of the 8192 bytes an advanced parameter may", "{full:?}");
    }
}
