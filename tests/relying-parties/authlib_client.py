"""Authlib (PyPI, pinned in infra/python/requirements.lock) as a portal
signing pat in through profile-link: discovery, authorization code with PKCE
S256, state and nonce, the code exchanged with client_secret_basic, the ID
token validated as Authlib validates it (its OpenID client does exactly this:
joserfc's JWT against the JWKS, then authlib.oidc.core.CodeIDToken), then
/userinfo. Run by scripts/test against a dev server whose PORTAL_CLIENTS
registers client `authlib` (scripts/lib.sh)."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from harness import BASE, PAT_PROFILES, Browser, Suite, origin, pat_with_both_profiles, support_revokes, within

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


LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def validated_logout_token(token: str) -> dict:
    """A logout token validated as Back-Channel Logout 1.0 §2.6 says, with
    joserfc: signature against the JWKS (RS256, the client's ID-token
    algorithm), typ logout+jwt, iss, aud, iat, exp, jti, the event, no nonce,
    sid or sub. Raises ValueError saying why not."""
    keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())
    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except Exception as e:  # joserfc's errors: a bad signature, format or algorithm
        raise ValueError(f"not a logout token signed by profile-link: {e!r}") from None
    header, claims = decoded.header, decoded.claims
    now = time.time()
    problems = [
        (header.get("typ") not in (None, "logout+jwt"), f"typ {header.get('typ')!r}"),
        (claims.get("iss") != discovery["issuer"], f"iss {claims.get('iss')!r}"),
        (CLIENT_ID not in (claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]), f"aud {claims.get('aud')!r}"),
        (not isinstance(claims.get("iat"), int) or claims["iat"] > now + 5, f"iat {claims.get('iat')!r}"),
        (not isinstance(claims.get("exp"), int) or claims["exp"] < now - 5, f"exp {claims.get('exp')!r}"),
        (not claims.get("jti"), "no jti"),
        (not isinstance(claims.get("events"), dict) or not isinstance(claims["events"].get(LOGOUT_EVENT), dict), f"events {claims.get('events')!r}"),
        ("nonce" in claims, "a nonce"),
        (not (claims.get("sid") or claims.get("sub")), "neither sid nor sub"),
    ]
    wrong = [why for bad, why in problems if bad]
    if wrong:
        raise ValueError("; ".join(wrong))
    return claims


class LogoutReceiver(BaseHTTPRequestHandler):
    """The portal's backchannel_logout_uri (scripts/lib.sh registers
    http://127.0.0.1:$AUTHLIB_LOGOUT_PORT/backchannel-logout): every valid
    token's claims in `received`, every refusal's reason in `refused`."""

    received: list[dict] = []
    refused: list[str] = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != "/backchannel-logout" or length > 8192:
            self.send_response(400 if length > 8192 else 404)
            self.end_headers()
            return
        form = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
        try:
            claims = validated_logout_token((form.get("logout_token") or [""])[0])
        except ValueError as e:
            LogoutReceiver.refused.append(str(e))
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "invalid_request"}')
            return
        LogoutReceiver.received.append(claims)
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def log_message(self, *args):  # quiet: the test says what it saw
        pass


receiver = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("AUTHLIB_LOGOUT_PORT", "3300"))), LogoutReceiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()

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


@suite.test
def a_support_revoke_posts_a_valid_logout_token_for_the_sign_in():
    """a support revoke of one of pat's profiles posts a logout token, valid by joserfc, for the sid of pat's Authlib sign-in, within seconds"""
    pat_with_both_profiles(pat)  # relinks what an earlier suite revoked
    sign_in = SignIn().through(pat)
    assert_pats_profiles(sign_in.claims, "ID token")
    sid = sign_in.claims.get("sid")
    assert sid, f"the ID token names its session (sid), as back-channel logout needs: {dict(sign_in.claims)}"
    support_revokes(PAT_PROFILES[0])

    def got_it():
        for_sid = [c for c in LogoutReceiver.received if c.get("sid") == sid]
        return bool(for_sid), f"valid tokens {LogoutReceiver.received}, refused {LogoutReceiver.refused}"

    took = within(10, got_it, f"posted a valid logout token for sid {sid}")
    token = next(c for c in LogoutReceiver.received if c.get("sid") == sid)
    assert token.get("sub") == sign_in.claims["sub"], f"the token's sub {token.get('sub')!r}, the ID token's {sign_in.claims['sub']!r}"
    print(f"  # the receiver had a valid logout token {took:.1f} s after the revoke returned")


if __name__ == "__main__":
    raise SystemExit(suite.run())
