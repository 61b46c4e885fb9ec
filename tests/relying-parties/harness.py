"""What the relying-party suites (tests/relying-parties) share: a browser
reduced to a cookie jar and hand-followed redirects, the forms of a page, pat
signed in at the dev identity provider with both profiles linked, and a tiny
test runner whose closing "# pass N" / "# fail N" lines scripts/test counts.

The same steps as the Rust harness's browser (infra/harness/src/browser.rs)
and the Node one (infra/testing/harness.mjs), in Python for the suites that
run a Python relying party. Standard library and `requests` only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import traceback
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

BASE = os.environ["PUBLIC_BASE_URL"]
MAILBOX = os.environ["AWS_ENDPOINT_URL_SESV2"]
PAT_ADDRESS = "pat@example.com"
# infra/demo-profiles.csv: the two profiles registered under pat@example.com.
PAT_PROFILES = ["CUST-1001", "CUST-1002"]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Page:
    """Where the browser arrived: the last URL, its status, headers and text.
    A redirect it was told not to follow (`stop_at`) arrives as its target, unvisited."""

    def __init__(self, url: str, status: int, headers, text: str, visited: list[str]):
        self.url, self.status, self.headers, self.text, self.visited = url, status, headers, text, visited

    def __repr__(self) -> str:
        return f"{self.status} at {self.url} (after {' → '.join(self.visited)}): {self.text[:600]}"

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError as e:
            raise AssertionError(f"not JSON ({e}): {self!r}") from None


class Browser:
    """A cookie jar (by host, as browsers keep them) and redirects followed by hand."""

    def __init__(self, stop_at: str | None = None):
        self.http = requests.Session()
        self.http.trust_env = False  # everything is on this machine: no proxy
        self.http.headers["Accept-Language"] = "en-GB,en;q=0.9"
        self.stop_at = stop_at

    def request(self, method: str, url: str, **kw) -> requests.Response:
        return self.http.request(method, url, allow_redirects=False, timeout=30, **kw)

    def follow(self, response: requests.Response) -> Page:
        visited = [response.url]
        for _ in range(20):
            if not (300 <= response.status_code < 400 and "location" in response.headers):
                return Page(response.url, response.status_code, response.headers, response.text, visited)
            target = urljoin(response.url, response.headers["location"])
            if self.stop_at and target.startswith(self.stop_at):
                return Page(target, response.status_code, response.headers, "", visited)
            visited.append(target)
            response = self.request("GET", target)
        raise AssertionError(f"more than 20 redirects: {' → '.join(visited)}")

    def get(self, url: str) -> Page:
        return self.follow(self.request("GET", url))

    def post(self, url: str, fields: dict) -> Page:
        return self.follow(self.request("POST", url, data=fields))

    def submit(self, page: Page, form: dict, **fields) -> Page:
        return self.post(urljoin(page.url, form["action"]), {**form["fields"], **fields})

    def sign_in(self, start: str, user: str = "pat", password: str = "demo") -> Page:
        """From `start` through the dev identity provider's login form, back to
        the first page on `start`'s origin (or the redirect `stop_at` names)."""
        home = origin(start)
        page = self.get(start)
        for _ in range(5):
            if origin(page.url) == home or page.url.startswith(self.stop_at or "\0"):
                return page
            posts = [f for f in forms(page.text) if f["method"] == "post"]
            if not posts:
                return page
            form = posts[0]
            if "password" in form["fields"]:
                form["fields"].update(login=user, password=password)
            page = self.submit(page, form)
        return page


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "fields": {}, "buttons": {}})
        elif self.forms and tag in ("input", "button") and a.get("name"):
            where = "buttons" if tag == "button" or a.get("type") == "submit" else "fields"
            self.forms[-1][where][a["name"]] = a.get("value") or ""


def forms(html: str) -> list[dict]:
    """The forms of a page: action, method, fields (inputs: name → value) and
    buttons (a submit button's name → value, sent only when it is the one pressed)."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def redeem_links_to(address: str) -> list[str]:
    """The redeem links in every email the emulator sent to `address`, oldest
    first (its record: messages with `destinations` and `body`, wherever they sit)."""
    data = requests.get(f"{MAILBOX}/moto-api/data.json", timeout=10).json()
    links = []

    def walk(value):
        if isinstance(value, dict):
            if "destinations" in value and "body" in value:
                if address in json.dumps(value["destinations"]):
                    links.extend(re.findall(r'https?://[^"\s<>]*/redeem\?token=[^"\s<>&]+', str(value["body"])))
                return
            value = list(value.values())
        if isinstance(value, list):
            for item in value:
                walk(item)

    walk(data.get("ses", {}))
    return list(dict.fromkeys(links))


def pat_with_both_profiles(browser: Browser) -> Page:
    """pat signed in at profile-link through the dev provider, with both
    profiles linked (the seed flow over HTTP when they are not yet)."""
    page = browser.sign_in(f"{BASE}/login?provider=dev&return_to=%2Fassociate", "pat")
    linked = sorted(p["profile_id"] for p in browser.get(f"{BASE}/me").json().get("profiles", []))
    if linked == PAT_PROFILES:
        return page
    already = set(redeem_links_to(PAT_ADDRESS))
    request = next((f for f in forms(page.text) if "email" in f["fields"]), None)
    assert request, f"no address form on the association page: {page!r}"
    sent = browser.submit(page, request, email=PAT_ADDRESS)
    assert sent.status == 200, f"asking for links to {PAT_ADDRESS}: {sent!r}"
    for _ in range(100):
        links = [l for l in redeem_links_to(PAT_ADDRESS) if l not in already]
        if len(links) >= 2:
            break
        time.sleep(0.2)
    assert len(links) == 2, f"one email per profile to {PAT_ADDRESS}, found links {links}"
    for link in links:
        confirmation = browser.sign_in(link, "pat")  # each link asks for a fresh sign-in
        confirm = next((f for f in forms(confirmation.text) if f["method"] == "post"), None)
        assert confirm, f"no confirmation form after opening a link: {confirmation!r}"
        done = browser.submit(confirmation, confirm, action="confirm")
        assert done.status == 200 and "linked" in done.text, f"confirming the link: {done!r}"
    linked = sorted(p["profile_id"] for p in browser.get(f"{BASE}/me").json().get("profiles", []))
    assert linked == PAT_PROFILES, f"pat's profiles after linking both: {linked}"
    return page


def support_revokes(profile_id: str) -> float:
    """Support revokes pat's link to `profile_id` with profile-link-admin, as the
    docs/operating.md's "The operator command line" says (scripts/test exports PROFILE_LINK_ADMIN
    and this stack's table and emulator); the time it returned."""
    admin = os.environ["PROFILE_LINK_ADMIN"]
    done = subprocess.run(
        [admin, "links", "revoke", "--profile", profile_id, "--operator", "rp-tests@support", "--yes"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, f"links revoke --profile {profile_id}: exit {done.returncode}: {done.stdout} {done.stderr}"
    return time.monotonic()


def within(seconds: float, check, what: str) -> float:
    """Polls `check()` every 0.2 s until it returns (True, _); the seconds that
    took. Else fails with what the last check saw (its second value)."""
    start = time.monotonic()
    while True:
        done, seen = check()
        if done:
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{seconds} s on, still not {what}; last saw: {seen}")
        time.sleep(0.2)


class Suite:
    """Runs the functions given to `test` in order, each independent of the
    others' outcome; prints TAP-like lines and the counts scripts/test adds up."""

    def __init__(self, name: str):
        self.name, self.tests = name, []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self) -> int:
        passed = failed = 0
        for number, fn in enumerate(self.tests, 1):
            title = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            try:
                reason = fn()
            except Exception:  # an assertion or anything else: reported, the next test runs
                failed += 1
                print(f"not ok {number} - {self.name}: {title}")
                print("  " + traceback.format_exc().replace("\n", "\n  "))
                continue
            if isinstance(reason, Skip):
                print(f"ok {number} - {self.name}: {title} # SKIP {reason.why}")
            else:
                passed += 1
                print(f"ok {number} - {self.name}: {title}")
        print(f"# pass {passed}")
        print(f"# fail {failed}")
        sys.stdout.flush()
        return 1 if failed else 0


class Skip:
    """Returned by a test that cannot run yet, saying why (counted neither passed nor failed)."""

    def __init__(self, why: str):
        self.why = why
