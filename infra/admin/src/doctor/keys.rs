//! The signing keys against the JWKS the stack publishes: portals verify ID
//! tokens with what `<issuer>/.well-known/jwks.json` serves, so every key in
//! the signing-key parameter must be there, and nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use profile_link_core::config::PublicBaseUrl;
use profile_link_core::{SessionKeys, SessionVerifier};
use serde::Serialize;
use serde_json::Value;

use super::{Check, Stack};

/// Each key's kid and public part (the members a JWK of its type is made of), by kid.
fn public_parts(set: &impl Serialize) -> BTreeMap<String, Vec<(String, Value)>> {
    let set = serde_json::to_value(set).unwrap_or_default();
    let keys = set["keys"].as_array().cloned().unwrap_or_default();
    keys.iter()
        .map(|key| {
            let kid = key["kid"].as_str().unwrap_or("(no kid)").to_owned();
            let parts = ["kty", "crv", "x", "y", "n", "e"]
                .iter()
                .filter_map(|member| key.get(*member).map(|v| ((*member).to_owned(), v.clone())))
                .collect();
            (kid, parts)
        })
        .collect()
}

/// A kid as messages show it (RFC 7638 thumbprints are long): its first 12 characters.
fn short(kid: &str) -> &str {
    kid.get(..12).unwrap_or(kid)
}

/// `3 key(s): EC 1a2b3c4d5e6f, …` (public: kids and key types only).
pub(super) fn described(set: &impl Serialize) -> String {
    let parts = public_parts(set);
    let kty = |parts: &[(String, Value)]| {
        parts.iter().find(|(m, _)| m == "kty").and_then(|(_, v)| v.as_str().map(str::to_owned)).unwrap_or_default()
    };
    let keys: Vec<String> = parts.iter().map(|(kid, parts)| format!("{} {}", kty(parts), short(kid))).collect();
    format!("{} key(s): {}", keys.len(), keys.join(", "))
}

/// How `theirs` differs from `ours` (kids missing, extra, or with another
/// public part), or `None` when they hold the same public keys.
pub(super) fn difference(ours: &impl Serialize, theirs: &impl Serialize) -> Option<String> {
    let (ours, theirs) = (public_parts(ours), public_parts(theirs));
    let kids = |map: &BTreeMap<String, Vec<(String, Value)>>, other: &BTreeMap<String, Vec<(String, Value)>>| {
        map.keys().filter(|kid| !other.contains_key(*kid)).map(|kid| short(kid).to_owned()).collect::<Vec<_>>()
    };
    let (lacking, extra) = (kids(&ours, &theirs), kids(&theirs, &ours));
    let changed: Vec<String> = ours
        .iter()
        .filter(|(kid, parts)| theirs.get(*kid).is_some_and(|p| p != *parts))
        .map(|(kid, _)| short(kid).to_owned())
        .collect();
    let mut said = Vec::new();
    if !lacking.is_empty() {
        said.push(format!("lacks {}", lacking.join(", ")));
    }
    if !extra.is_empty() {
        said.push(format!("has {} not among the signing keys", extra.join(", ")));
    }
    if !changed.is_empty() {
        said.push(format!("has another public key under {}", changed.join(", ")));
    }
    (!said.is_empty()).then(|| said.join("; "))
}

/// The JWKS the stack serves, against the signing keys in SSM.
pub(super) async fn published(stack: &Stack, signing: Option<&SessionKeys>) -> Vec<Check> {
    const CHECK: &str = "published JWKS";
    let Some(raw) = stack.public_base_url.as_deref() else {
        return vec![Check::warn(
            CHECK,
            "not checked: no public base URL",
            "give --public-base-url (the stack's OpenIdProviderIssuer output) or PUBLIC_BASE_URL",
        )];
    };
    let base = match PublicBaseUrl::parse("PUBLIC_BASE_URL", raw) {
        Ok(base) => base,
        Err(error) => {
            return vec![Check::fail(CHECK, error.to_string(), "give the stack's OpenIdProviderIssuer output")];
        }
    };
    let Some(signing) = signing else {
        // The signing keys' own line says why they could not be read.
        return Vec::new();
    };
    let url = base.join("/.well-known/jwks.json");
    let body = match fetch(&url).await {
        Ok(body) => body,
        Err(problem) => {
            return vec![Check::fail(
                CHECK,
                format!("GET {url}: {problem}"),
                "portals cannot verify ID tokens: check that the stack is deployed and PublicBaseUrl's domain maps to its API",
            )];
        }
    };
    let published = match SessionVerifier::from_jwks("", &body) {
        Ok(published) => published,
        Err(error) => {
            return vec![Check::fail(
                CHECK,
                format!("{url}: not a JWKS: {error}"),
                "check what answers at the public base URL",
            )];
        }
    };
    vec![match difference(signing.jwks(), published.jwks()) {
        None => Check::ok(CHECK, format!("{url} publishes exactly the signing keys ({})", described(published.jwks()))),
        Some(difference) => Check::fail(
            CHECK,
            format!("{url} {difference} (the signing keys: {})", described(signing.jwks())),
            "functions started before the keys changed serve the old set until their next cold start: \
             redeploy (or update the functions' configuration) so they restart, then run doctor again",
        ),
    }]
}

async fn fetch(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(8))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.text().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_kids_lacking_and_extra() {
        let (a, b) = (SessionKeys::generate_pem(), SessionKeys::generate_pem());
        let first = SessionKeys::from_pem("", &a).unwrap();
        let both = SessionKeys::from_pem("", &format!("{a}{b}")).unwrap();
        assert_eq!(difference(first.jwks(), first.jwks()), None);
        let said = difference(both.jwks(), first.jwks()).unwrap();
        assert!(said.starts_with("lacks ") && !said.contains("not among"), "{said}");
        let said = difference(first.jwks(), both.jwks()).unwrap();
        assert!(said.starts_with("has ") && said.ends_with("not among the signing keys"), "{said}");
        assert!(described(first.jwks()).starts_with("2 key(s): "), "{}", described(first.jwks()));
    }
}
