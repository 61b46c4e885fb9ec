"""Apache's mod_auth_openidc (Debian's libapache2-mod-auth-openidc) in front
of a tiny application (apache/claims.cgi: the OIDC_CLAIM_* variables it is
handed, as JSON), signing pat in through profile-link. scripts/test starts
Apache (scripts/lib.sh start_apache_oidc) at APACHE_OIDC_URL, its error log at
APACHE_OIDC_ERROR_LOG, as client `apache-oidc` of the dev server."""

from __future__ import annotations

import json
import os
import re
import time

import requests

from harness import BASE, PAT_PROFILES, Browser, Skip, Suite, forms, pat_with_both_profiles, support_revokes, within

APACHE = os.environ["APACHE_OIDC_URL"]
ERROR_LOG = os.environ["APACHE_OIDC_ERROR_LOG"]
APP = f"{APACHE}/protected/claims"

suite = Suite("mod_auth_openidc")
discovery = requests.get(f"{BASE}/.well-known/openid-configuration", timeout=10).json()
pat = Browser()
seen = {}


@suite.test
def the_application_sees_the_flat_profile_claim():
    """the application behind mod_auth_openidc sees OIDC_CLAIM_profile_ids with both of pat's profiles"""
    pat_with_both_profiles(pat)
    page = pat.get(APP)
    assert page.status == 200 and page.url == APP, f"signed in and back at the application: {page!r}"
    assert any(u.startswith(discovery["authorization_endpoint"]) for u in page.visited), f"through /authorize: {page.visited}"
    claims = page.json()
    print("  # what the application received:\n  # " + json.dumps(claims, sort_keys=True).replace("\n", "\n  # "))
    seen.update(claims)
    ids = claims.get("OIDC_CLAIM_profile_ids", "")
    assert sorted(ids.split(",")) == PAT_PROFILES, f"OIDC_CLAIM_profile_ids {ids!r} (mod_auth_openidc joins string arrays with ','): {claims}"
    assert claims.get("OIDC_CLAIM_iss") == discovery["issuer"], f"OIDC_CLAIM_iss: {claims}"
    assert claims.get("OIDC_CLAIM_sub") and claims.get("REMOTE_USER", "").startswith(claims["OIDC_CLAIM_sub"]), f"sub and REMOTE_USER: {claims}"


@suite.test
def the_module_drops_no_flat_claim():
    """mod_auth_openidc's log names no unhandled value in profile_ids (only the profiles objects, which it cannot pass)"""
    assert seen, "needs the sign-in above"
    with open(ERROR_LOG, errors="replace") as f:
        unhandled = [line.strip() for line in f if "unhandled" in line]
    print("  # mod_auth_openidc on unhandled values: " + (" | ".join(sorted({re.sub(r'^.*?(oidc_\w+: |unhandled)', r'\1', l) for l in unhandled})) or "nothing"))
    about_flat = [line for line in unhandled if "profile_ids" in line]
    assert not about_flat, f"mod_auth_openidc dropped part of profile_ids: {about_flat}"


@suite.test
def the_session_ends_on_a_back_channel_logout():
    """its session ends on a back-channel logout when pat signs out at profile-link"""
    if not discovery.get("backchannel_logout_supported"):
        return Skip("profile-link does not advertise backchannel_logout_supported yet")
    assert seen, "needs the sign-in above"
    # Client apache-oidc registers backchannel_logout_uri = <OIDCRedirectURI>?logout=backchannel
    # (scripts/lib.sh); mod_auth_openidc finds the session the logout token's sid/sub names.
    account = pat.get(f"{BASE}/")
    sign_out = next((f for f in forms(account.text) if f["method"] == "post" and "logout" in f["action"]), None)
    assert sign_out, f"a sign-out form on the account page: {account!r}"
    pat.submit(account, sign_out)
    for _ in range(50):
        answer = pat.request("GET", APP)
        if answer.status_code in (301, 302, 303, 307) and answer.headers["location"].startswith(discovery["authorization_endpoint"]):
            return None
        time.sleep(0.2)
    raise AssertionError(f"10 s after pat signed out, Apache still answers {answer.status_code} {answer.text[:300]} (its session lives on)")


def apache_session_ended():
    answer = pat.request("GET", APP)
    ended = answer.status_code in (301, 302, 303, 307) and answer.headers["location"].startswith(discovery["authorization_endpoint"])
    return ended, f"{answer.status_code} {answer.headers.get('location') or answer.text[:300]}"


@suite.test
def the_session_ends_when_support_revokes_a_profile():
    """its session ends within seconds when support revokes one of pat's profiles (profile-link-admin links revoke)"""
    pat_with_both_profiles(pat)  # signs pat in again at profile-link (and relinks what an earlier test revoked)
    page = pat.get(APP)
    assert page.status == 200 and page.url == APP, f"signed in to Apache again: {page!r}"
    assert sorted(page.json().get("OIDC_CLAIM_profile_ids", "").split(",")) == PAT_PROFILES, f"both profiles: {page.text}"
    support_revokes(PAT_PROFILES[0])
    took = within(10, apache_session_ended, "signed out of Apache (it answers the application instead of sending pat to /authorize)")
    print(f"  # Apache's session ended {took:.1f} s after the revoke returned")


if __name__ == "__main__":
    raise SystemExit(suite.run())
