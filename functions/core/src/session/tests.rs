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
        signed_in_for: None,
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
fn jwks_publishes_only_the_public_keys_each_with_kid_use_and_alg() {
    let keys = keys();
    let json = serde_json::to_value(keys.jwks()).unwrap();
    let published = json["keys"].as_array().unwrap();
    assert_eq!(published.len(), 2, "{json}");
    let ec = published.iter().find(|k| k["kty"] == "EC").expect("an EC key");
    assert_eq!((&ec["crv"], &ec["alg"], &ec["use"]), (&"P-256".into(), &"ES256".into(), &"sig".into()), "{ec}");
    assert_eq!(ec["kid"], keys.kid());
    let rsa = published.iter().find(|k| k["kty"] == "RSA").expect("an RSA key");
    assert_eq!((&rsa["alg"], &rsa["use"]), (&"RS256".into(), &"sig".into()), "{rsa}");
    assert_eq!(rsa["kid"], keys.portal_kid(SigningAlg::Rs256));
    for key in published {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "no private part: {key}");
        }
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct PortalClaims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
}

fn portal_claims() -> PortalClaims {
    PortalClaims { iss: ISSUER.into(), aud: "portal".into(), sub: "person".into(), exp: now() + 60 }
}

/// Verified as a portal does: the published JWKS, the key its kid names, a stock verifier.
fn verify_as_a_portal(keys: &SessionKeys, token: &str) -> (Algorithm, PortalClaims) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = keys.jwks().find(header.kid.as_deref().unwrap()).expect("the kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["portal"]);
    validation.set_issuer(&[ISSUER]);
    let claims = jsonwebtoken::decode::<PortalClaims>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap_or_else(|e| panic!("{:?} token does not verify: {e}", header.alg))
        .claims;
    assert_eq!(jwk.common.key_algorithm.map(|a| a.to_string()), Some(format!("{:?}", header.alg)));
    (header.alg, claims)
}

#[test]
fn portal_tokens_are_signed_with_the_algorithm_asked_for_and_verify_against_the_jwks() {
    let keys = keys();
    let rs = keys.sign_for_portal(SigningAlg::Rs256, &portal_claims());
    assert_eq!(verify_as_a_portal(&keys, &rs), (Algorithm::RS256, portal_claims()));
    let es = keys.sign_for_portal(SigningAlg::Es256, &portal_claims());
    assert_eq!(verify_as_a_portal(&keys, &es), (Algorithm::ES256, portal_claims()));
    let verifier = SessionVerifier::from_jwks(ISSUER, &serde_json::to_string(keys.jwks()).unwrap()).unwrap();
    for token in [&rs, &es] {
        assert_eq!(verifier.id_token_hint::<PortalClaims>(token), Some(portal_claims()), "both are hints");
    }
}

#[test]
fn only_the_ec_key_makes_sessions_and_purpose_tokens() {
    let keys = keys();
    let (_, claims) = issue(&keys, now());
    let by_rsa = keys.sign_for_portal(SigningAlg::Rs256, &claims);
    assert!(matches!(keys.verify(&by_rsa, now()), Err(SessionRejected::UnknownKey)), "an RS256 token is no session");
    assert_eq!(jsonwebtoken::decode_header(keys.sign_for("x", &claims)).unwrap().alg, Algorithm::ES256);
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `token` with its header replaced (its payload and signature kept).
fn with_header(token: &str, header: serde_json::Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header.to_string().as_bytes()))
}

#[test]
fn an_id_token_hint_whose_header_alg_is_not_its_keys_is_refused() {
    let keys = keys();
    let hint = |token: &str| keys.id_token_hint::<PortalClaims>(token);
    let rsa_kid = keys.portal_kid(SigningAlg::Rs256).to_owned();
    let ec_kid = keys.kid().to_owned();
    let rs = keys.sign_for_portal(SigningAlg::Rs256, &portal_claims());
    assert!(hint(&rs).is_some());

    // HS256 keyed with the RSA public key (as published, and as DER): the classic confusion.
    let rsa_jwk = keys.jwks().find(&rsa_kid).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(rsa_kid.clone());
    for secret in [serde_json::to_vec(rsa_jwk).unwrap(), serde_json::to_vec(keys.jwks()).unwrap()] {
        let forged = jsonwebtoken::encode(&header, &portal_claims(), &EncodingKey::from_secret(&secret)).unwrap();
        assert_eq!(hint(&forged), None, "HS256 with the public key as secret");
    }
    // The same signature under another header alg, or another key's kid.
    for (alg, kid) in
        [("RS512", &rsa_kid), ("PS256", &rsa_kid), ("ES256", &rsa_kid), ("RS256", &ec_kid), ("none", &rsa_kid)]
    {
        let changed = with_header(&rs, serde_json::json!({"alg": alg, "kid": kid, "typ": "JWT"}));
        assert_eq!(hint(&changed), None, "header alg {alg}, kid {kid}");
    }
    let unsigned = format!(
        "{}.",
        with_header(&rs, serde_json::json!({"alg": "none", "kid": rsa_kid})).rsplit_once('.').unwrap().0
    );
    assert_eq!(hint(&unsigned), None, "alg none, no signature");
}

#[test]
fn a_key_set_without_an_rsa_key_names_the_command_that_adds_one() {
    let error = SessionKeys::from_pem(ISSUER, &generate_ec_pem()).unwrap_err().to_string();
    assert!(error.contains("RSA") && error.contains("profile-link-admin keys rotate"), "{error}");
    let error = SessionKeys::from_pem(ISSUER, &generate_rsa_pem()).unwrap_err().to_string();
    assert!(error.contains("EC P-256") && error.contains("keys rotate"), "{error}");
}

#[test]
fn rsa_keys_are_read_in_pkcs1_and_pkcs8_and_the_published_ones_verify_nothing_else() {
    let pkcs1 = generate_rsa_pem();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pkcs1}");
    let parsed = PrivateKey::parse(&pkcs1).unwrap();
    assert_eq!(parsed.alg, SigningAlg::Rs256);
    // The same key as PKCS#8 (what `openssl genpkey` writes).
    let der = {
        use aws_lc_rs::encoding::AsDer;
        let pem_body: String = pkcs1.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine;
        let pkcs1_der = base64::engine::general_purpose::STANDARD.decode(pem_body).unwrap();
        aws_lc_rs::rsa::KeyPair::from_der(&pkcs1_der).unwrap().as_der().unwrap()
    };
    let pkcs8 = keys::pem_encode("PRIVATE KEY", der.as_ref());
    assert_eq!(PrivateKey::parse(&pkcs8).unwrap().kid, parsed.kid, "the same key either way");
    let set = format!("{}{pkcs8}", generate_ec_pem());
    assert_eq!(SessionKeys::from_pem(ISSUER, &set).unwrap().portal_kid(SigningAlg::Rs256), parsed.kid);

    // A JWKS with a symmetric key or another curve is not ours.
    let mut jwks = serde_json::to_value(SessionKeys::from_pem(ISSUER, &set).unwrap().jwks()).unwrap();
    jwks["keys"][1]["alg"] = "ES256".into();
    assert!(SessionVerifier::from_jwks(ISSUER, &jwks.to_string()).is_err(), "an RSA key published as ES256");
    let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x", "alg": "HS256"}]});
    assert!(SessionVerifier::from_jwks(ISSUER, &oct.to_string()).is_err(), "a symmetric key");
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
fn the_first_key_of_each_kind_signs_and_every_one_verifies() {
    let (first, second) = (SessionKeys::generate_pem(), SessionKeys::generate_pem());
    let both = SessionKeys::from_pem(ISSUER, &format!("{first}\n{second}")).unwrap();
    let alone = SessionKeys::from_pem(ISSUER, &first).unwrap();
    let next = SessionKeys::from_pem(ISSUER, &format!("{second}{first}")).unwrap();
    assert_eq!(both.kid(), alone.kid(), "the first EC key signs");
    assert_eq!(both.portal_kid(SigningAlg::Rs256), alone.portal_kid(SigningAlg::Rs256), "the first RSA key signs");
    assert_eq!(both.jwks().keys.len(), 4, "all four are published");
    let (by_next, _) = issue(&next, now());
    assert!(both.verify(&by_next, now()).is_ok(), "a token the second key signed verifies");
    assert!(alone.verify(&by_next, now()).is_err(), "and only where the key is known");
    let id_token = next.sign_for_portal(SigningAlg::Rs256, &portal_claims());
    assert!(both.id_token_hint::<PortalClaims>(&id_token).is_some());
    assert!(alone.id_token_hint::<PortalClaims>(&id_token).is_none());
    assert_eq!(pem_keys(&format!("{first}{first}")).len(), 4);
    assert_eq!(
        SessionKeys::from_pem(ISSUER, &format!("{first}{first}")).unwrap().jwks().keys.len(),
        2,
        "a repeated key once"
    );
}

#[test]
fn rejects_what_is_not_a_key() {
    let error = SessionKeys::from_pem(ISSUER, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert!(matches!(error, Err(SessionKeyError::NotAKey(_))), "{error:?}");
    assert!(matches!(SessionKeys::from_pem(ISSUER, "no key"), Err(SessionKeyError::NoKeys)));
}
