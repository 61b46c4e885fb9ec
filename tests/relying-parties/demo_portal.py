"""The demo portal (infra/demo-portal, openid-client) as a relying party of
this stack: pat signs in there and sees both profiles; a support revoke of one
of them ends the portal's session through back-channel logout. scripts/test
starts a demo portal for this stack at DEMO_PORTAL_URL."""

from __future__ import annotations

import os
import re

from harness import PAT_PROFILES, Browser, Suite, pat_with_both_profiles, support_revokes, within

PORTAL = os.environ["DEMO_PORTAL_URL"]

suite = Suite("demo portal")
pat = Browser()


def listed_profiles(html: str) -> list[str]:
    return sorted(re.findall(r'<li data-profile-id="([^"]*)"', html))


@suite.test
def a_support_revoke_ends_the_portal_session():
    """pat signs in to the demo portal with both profiles; a support revoke of one ends the portal's session within seconds"""
    pat_with_both_profiles(pat)
    page = pat.get(f"{PORTAL}/login")
    assert page.status == 200 and page.url == f"{PORTAL}/", f"back at the portal's home page: {page!r}"
    assert listed_profiles(page.text) == PAT_PROFILES, f"the portal lists both profiles: {page!r}"
    support_revokes(PAT_PROFILES[0])

    def signed_out():
        home = pat.get(f"{PORTAL}/")
        return 'id="sign-in"' in home.text and 'id="who"' not in home.text, f"{home.status}, profiles {listed_profiles(home.text)}"

    took = within(10, signed_out, "signed out of the demo portal")
    print(f"  # the demo portal's session ended {took:.1f} s after the revoke returned")


if __name__ == "__main__":
    raise SystemExit(suite.run())
