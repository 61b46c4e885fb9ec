"""Authlib (PyPI, pinned in infra/python/requirements.lock) as a portal
signing pat in through profile-link: discovery, authorization code with PKCE
S256, state and nonce, the code exchanged with client_secret_basic, the ID
token validated as Authlib validates it (its OpenID client does exactly this:
joserfc's JWT against the JWKS, then authlib.oidc.core.CodeIDToken), then
/userinfo. Run by scripts/test against a dev server whose PORTAL_CLIENTS
registers client `authlib` (scripts/lib.sh)."""

from __future__ import annotations

import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from harness import BASE, PAT_PROFILES, Browser, Suite, origin, pat_with_both_profiles

CLIENT_ID = "authlib"
CLIENT_SECRET = "authlib-client-secret"
REDIRECT_URI = "http://127.0.0.1/authlib/callback"  # nothing listens: the browser stops there

suite = Suite("authlib")
discovery = requests.get(f"{BASE}/.well-known/openid-configuration", timeout=10).json()
pat = Browser(stop_at=REDIRECT_URI)


class SignIn:
    """One authorization request by Authlib, through pat's browser, to tokens and validated claims."""

    def __init__(self, **extra):
        self.client = OAuth2Session(
            CLIENT_ID,
            CLIENT_SECRET,
            token_endpoint_auth_method="client_secret_basic",
            scope="openid profile email",
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
        )
        self.token_requests = []
        self.client.hooks["response"].append(lambda r, *a, **k: self.token_requests.append(r.request))
        self.nonce, self.verifier = generate_token(20), generate_token(48)
        self.extra = extra
        self.url, self.state = self.client.create_authorization_url(
            discovery["authorization_endpoint"], nonce=self.nonce, code_verifier=self.verifier, **extra
        )

    def through(self, browser: Browser):
        """The browser opens the authorization URL (signing in where it is asked to);
        Authlib checks state, exchanges the code and validates the ID token."""
        self.arrival = browser.sign_in(self.url, "pat")
        assert self.arrival.url.startswith(REDIRECT_URI + "?"), f"back at the redirect URI with a code: {self.arrival!r}"
        # RFC 9207: the authorization response names its issuer.
        assert f"iss={requests.utils.quote(discovery['issuer'], safe='')}" in self.arrival.url, self.arrival.url
        self.token = self.client.fetch_token(
            discovery["token_endpoint"],
            authorization_response=self.arrival.url,
            state=self.state,
            code_verifier=self.verifier,
        )
        sent = self.token_requests[-1]
        assert sent.headers.get("Authorization", "").startswith("Basic "), f"client_secret_basic at /token: {dict(sent.headers)}"
        assert "client_secret" not in (sent.body or ""), "the secret only in the Authorization header"
        self.claims = validated_id_token(self.token, self.nonce, self.extra.get("max_age"))
        return self


def validated_id_token(token: dict, nonce: str, max_age: int | None = None) -> CodeIDToken:
    """Signature against the published JWKS (algorithms as discovery lists
    them), then iss, aud, exp, iat, nonce, at_hash (Authlib's CodeIDToken)."""
    assert "id_token" in token, f"an ID token from /token: {sorted(token)}"
    keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(
        token["id_token"],
        keys,
        registry=JWSRegistry(algorithms=discovery["id_token_signing_alg_values_supported"]),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={
            "iss": {"essential": True, "value": discovery["issuer"]},
            "aud": {"essential": True, "value": CLIENT_ID},
            "sub": {"essential": True},
            "exp": {"essential": True},
        },
        params={"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"], "max_age": max_age},
    )
    claims.validate(leeway=5)
    return claims


def assert_pats_profiles(claims, where: str):
    assert sorted(claims.get("profile_ids", [])) == PAT_PROFILES, f"{where}: profile_ids {claims.get('profile_ids')!r} in {dict(claims)}"
    profiles = claims.get("profiles", [])
    ids = sorted(str(p.get("id")) for p in profiles if isinstance(p, dict))
    assert ids == PAT_PROFILES, f"{where}: profiles {profiles!r}"
    organizations = sorted(p.get("organization") for p in profiles)
    assert organizations == ["Doe Family Bakery", "Northwind Consulting"], f"{where}: profiles {profiles!r}"


first = {}


@suite.test
def discovery_has_what_authlib_uses():
    """discovery names the issuer, endpoints, S256 and client_secret_basic"""
    assert discovery["issuer"] == BASE, f"issuer {discovery['issuer']!r}, expected {BASE}"
    for field in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert discovery.get(field, "").startswith(BASE), f"{field}: {discovery.get(field)!r}"
    assert "S256" in discovery.get("code_challenge_methods_supported", []), discovery
    assert "client_secret_basic" in discovery.get("token_endpoint_auth_methods_supported", []), discovery


@suite.test
def signs_in_and_reads_both_profiles_from_the_id_token():
    """Authlib signs pat in (code, PKCE S256, state, nonce, client_secret_basic) and reads both profiles from the validated ID token"""
    pat_with_both_profiles(pat)
    sign_in = SignIn().through(pat)
    assert sign_in.claims["nonce"] == sign_in.nonce, dict(sign_in.claims)
    assert isinstance(sign_in.claims.get("auth_time"), int), f"auth_time: {dict(sign_in.claims)}"
    assert_pats_profiles(sign_in.claims, "ID token")
    first.update(claims=sign_in.claims, client=sign_in.client)


@suite.test
def userinfo_lists_both_profiles():
    """/userinfo, with the access token Authlib holds, lists both profiles for the same sub"""
    assert first, "needs the sign-in above"
    answer = first["client"].get(discovery["userinfo_endpoint"])
    assert answer.status_code == 200, f"/userinfo: {answer.status_code} {answer.text}"
    info = answer.json()
    assert info.get("sub") == first["claims"]["sub"], f"userinfo sub {info.get('sub')!r}, ID token sub {first['claims']['sub']!r}"
    assert_pats_profiles(info, "/userinfo")


@suite.test
def max_age_zero_forces_a_fresh_sign_in():
    """max_age=0 makes pat sign in again: auth_time is no earlier than the request (OIDC Core 3.1.2.1)"""
    assert first, "needs the sign-in above"
    time.sleep(1.1)  # the earlier sign-in's auth_time is now in a past second
    asked_at = int(time.time())  # the stack runs on the real clock (scripts/test: no DEV_CLOCK_CONTROL)
    sign_in = SignIn(max_age=0).through(pat)
    at_provider = [u for u in sign_in.arrival.visited if origin(u) != origin(BASE) and not u.startswith(REDIRECT_URI)]
    auth_time = sign_in.claims.get("auth_time")
    assert isinstance(auth_time, int), f"max_age makes auth_time REQUIRED: {dict(sign_in.claims)}"
    assert auth_time >= asked_at, (
        f"auth_time {auth_time} is before the max_age=0 request at {asked_at} "
        f"(the earlier sign-in's was {first['claims']['auth_time']}); the browser went {' → '.join(sign_in.arrival.visited)}"
    )
    assert at_provider, f"pat was not sent to the identity provider to sign in: {sign_in.arrival.visited}"
    assert_pats_profiles(sign_in.claims, "ID token after max_age=0")


if __name__ == "__main__":
    raise SystemExit(suite.run())
