use super::*;

const ISSUER: &str = "https://link.example.com";

fn keys() -> SessionKeys {
    SessionKeys::from_pem(ISSUER, &SessionKeys::generate_pem()).unwrap()
}

fn issue(keys: &SessionKeys, now: i64) -> (String, SessionClaims) {
    keys.issue(NewSession {
        identity: &Identity::new("https://idp.example", "pat-1"),
        provider: ("dev", "Dev provider"),
        profile: IdentityProfile { name: Some("Pat".into()), ..Default::default() },
        auth_time: Some(now - 5),
        profiles: vec!["P-1".into()],
        now,
        ttl_seconds: 3600,
        generation: 0,
        csrf: None,
    })
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

#[test]
fn issued_sessions_verify_and_carry_their_claims() {
    let keys = keys();
    let (token, claims) = issue(&keys, now());
    let verified = keys.verify(&token, now()).unwrap();
    assert_eq!(verified, claims);
    assert_eq!(verified.identity(), Identity::new("https://idp.example", "pat-1"));
    assert_eq!(verified.profiles, vec!["P-1"]);
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some(keys.kid()));
}

#[test]
fn expired_sessions_are_rejected() {
    let keys = keys();
    let (token, _) = issue(&keys, now() - 7200);
    assert!(keys.verify(&token, now()).is_err());
    let (token, claims) = issue(&keys, now());
    assert!(keys.verify(&token, claims.exp).is_err(), "rejected at exp by the injected clock");
}

#[test]
fn tokens_from_another_key_or_tampered_are_rejected() {
    let (a, b) = (keys(), keys());
    let (token, _) = issue(&a, now());
    assert!(matches!(b.verify(&token, now()), Err(SessionRejected::UnknownKey)));

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = parts[1].clone().into_bytes();
    payload[10] ^= 1;
    parts[1] = String::from_utf8(payload).unwrap();
    assert!(a.verify(&parts.join("."), now()).is_err());
}

#[test]
fn jwks_publishes_only_the_public_key() {
    let keys = keys();
    let json = serde_json::to_value(keys.jwks()).unwrap();
    let key = &json["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["kid"], keys.kid());
    assert!(key.get("d").is_none(), "no private part");
}

#[test]
fn purpose_tokens_verify_only_for_their_purpose_and_lifetime() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Clicked {
        token: String,
        exp: i64,
    }
    let keys = keys();
    let claims = Clicked { token: "abc".into(), exp: now() + 60 };
    let signed = keys.sign_for("redeem", &claims);
    assert_eq!(keys.verify_for::<Clicked>("redeem", &signed, now()), Some(claims));
    assert_eq!(keys.verify_for::<Clicked>("other", &signed, now()), None);
    assert_eq!(keys.verify_for::<Clicked>("redeem", &signed, now() + 61), None);
    assert!(keys.verify(&signed, now()).is_err(), "never a session");
    let (session, _) = issue(&keys, now());
    assert_eq!(
        keys.verify_for::<serde_json::Value>("redeem", &session, now()),
        None,
        "a session is not a purpose token"
    );
}

#[test]
fn a_reissued_session_keeps_its_sign_in_and_end() {
    let keys = keys();
    let (_, claims) = issue(&keys, now() - 600);
    let reissued = claims.with_profiles(vec!["P-2".into(), "P-1".into(), "P-2".into()]);
    assert_eq!(reissued.profiles, vec!["P-1", "P-2"]);
    assert_eq!(
        (&reissued.sid, reissued.iat, reissued.exp, reissued.auth_time, &reissued.csrf),
        (&claims.sid, claims.iat, claims.exp, claims.auth_time, &claims.csrf),
        "only the profiles change"
    );
    assert!(reissued.exp <= reissued.auth_time.unwrap() + 3600 + 5);
    let verified = keys.verify(&keys.sign(&reissued), now()).unwrap();
    assert_eq!(verified, reissued);
}

#[test]
fn a_verifier_from_the_published_jwks_accepts_exactly_what_the_keys_do() {
    let keys = keys();
    let published = serde_json::to_string(keys.jwks()).unwrap();
    let verifier = SessionVerifier::from_jwks(ISSUER, &published).unwrap();
    let (token, claims) = issue(&keys, now());
    assert_eq!(verifier.verify(&token, now()).unwrap(), claims);
    let (other, _) = issue(&self::keys(), now());
    assert!(matches!(verifier.verify(&other, now()), Err(SessionRejected::UnknownKey)));
    let elsewhere = SessionVerifier::from_jwks("https://other.example.com", &published).unwrap();
    assert!(elsewhere.verify(&token, now()).is_err(), "iss and aud are checked");
}

#[test]
fn a_verifier_refuses_private_keys_and_keys_without_kid() {
    let keys = keys();
    let mut jwks = serde_json::to_value(keys.jwks()).unwrap();
    jwks["keys"][0]["d"] = "c2VjcmV0".into();
    let private = SessionVerifier::from_jwks(ISSUER, &jwks.to_string()).unwrap_err();
    assert!(private.to_string().contains("private"), "{private}");
    jwks["keys"][0].as_object_mut().unwrap().remove("d");
    jwks["keys"][0].as_object_mut().unwrap().remove("kid");
    assert!(SessionVerifier::from_jwks(ISSUER, &jwks.to_string()).is_err());
    assert!(SessionVerifier::from_jwks(ISSUER, &SessionKeys::generate_pem()).is_err(), "a PEM is not a JWKS");
    assert!(SessionVerifier::from_jwks(ISSUER, r#"{"keys":[]}"#).is_err());
}

#[test]
fn the_first_of_several_keys_signs_and_every_one_verifies() {
    let (first, second) = (SessionKeys::generate_pem(), SessionKeys::generate_pem());
    let both = SessionKeys::from_pem(ISSUER, &format!("{first}\n{second}")).unwrap();
    let alone = SessionKeys::from_pem(ISSUER, &first).unwrap();
    let next = SessionKeys::from_pem(ISSUER, &format!("{second}{first}")).unwrap();
    assert_eq!(both.kid(), alone.kid(), "the first key signs");
    assert_eq!(both.jwks().keys.len(), 2, "both are published");
    let (by_next, _) = issue(&next, now());
    assert!(both.verify(&by_next, now()).is_ok(), "a token the second key signed verifies");
    assert!(alone.verify(&by_next, now()).is_err(), "and only where the key is known");
    assert_eq!(pem_keys(&format!("{first}{first}")).len(), 2);
    assert_eq!(
        SessionKeys::from_pem(ISSUER, &format!("{first}{first}")).unwrap().jwks().keys.len(),
        1,
        "a repeated key once"
    );
}

#[test]
fn rejects_a_key_that_is_not_ec() {
    assert!(SessionKeys::from_pem(ISSUER, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
}
