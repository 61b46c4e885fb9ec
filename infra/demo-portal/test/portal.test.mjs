// The real portal (server.mjs, as a child process) against a real OP
// (oidc-provider with profile-link's endpoints, claims and RS256/ES256 keys), over
// HTTP as a browser would: cookies, redirects, forms.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, element, forms, freePort } from '../../testing/harness.mjs';
import { profileItems, startOp, startPortal } from '../testing/harness.mjs';

let portal;
let op;
let opPort;
before(async () => {
  opPort = await freePort();
  // Started before its OP, as scripts/dev may do.
  portal = await startPortal({ port: await freePort(), issuer: `http://127.0.0.1:${opPort}` });
});
after(async () => {
  await portal?.stop();
  await op?.stop();
});

// The OP, started by whichever test needs it first (the first test checks the portal without it).
async function opRunning() {
  op ??= await startOp({ port: opPort, portalOrigin: portal.base });
  return op;
}

// What a response was, for assertion messages: status, URL and the #error text or the page's start.
function saw(response) {
  const text = element(response.text, 'error') ?? response.text.match(/<main>([\s\S]*)<\/main>/)?.[1] ?? response.text;
  return `saw ${response.status} at ${response.url}: ${text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 400)}`;
}

const textOf = (html, id) => element(html, id)?.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();

async function signIn(browser, query = '') {
  await opRunning();
  const page = await browser.follow(`${portal.base}/login${query}`);
  assert.equal(page.url, `${portal.base}/`, `sign-in should end on the portal's home page, ${saw(page)}`);
  assert.equal(page.status, 200, `the home page after sign-in, ${saw(page)}`);
  return page;
}

function postForm(browser, page, action) {
  const form = forms(page.text).find((f) => f.action === action);
  assert.ok(form, `a form posting to ${action} on the page, saw forms ${JSON.stringify(forms(page.text))}`);
  return browser.follow(`${portal.base}${action}`, { method: 'POST', form: form.fields });
}

describe('the demo portal against an OP', () => {
  test('before profile-link is up, / works and /login answers 503 saying so; once it is up, /login goes there', async () => {
    const browser = new Browser();
    const home = await browser.follow(`${portal.base}/`);
    assert.equal(home.status, 200, `the signed-out home page, ${saw(home)}`);
    assert.ok(element(home.text, 'sign-in'), `a #sign-in button on the signed-out page, ${saw(home)}`);

    const down = await browser.follow(`${portal.base}/login`);
    assert.equal(down.status, 503, `/login with no OP, ${saw(down)}`);
    const expected = `profile-link is not reachable at http://127.0.0.1:${opPort}; is scripts/dev running?`;
    assert.ok(textOf(down.text, 'error')?.includes(expected), `#error should say "${expected}", ${saw(down)}`);

    const { issuer } = await opRunning();
    const start = await browser.request(`${portal.base}/login`);
    assert.equal(start.status, 302, `/login once the OP runs, ${saw(start)}`);
    assert.ok(start.location?.startsWith(`${issuer}/authorize?`), `a redirect to the OP's authorization endpoint, saw ${start.location}`);
  });

  test('sign-in: the code flow with PKCE S256, state, nonce and idp_hint, then the home page lists the profiles', async () => {
    const browser = new Browser();
    const page = await signIn(browser, '?idp_hint=entra');
    const authorize = new URL(page.visited.find((u) => u.startsWith(`${op.issuer}/authorize?`)));
    const params = Object.fromEntries(authorize.searchParams);
    assert.equal(params.code_challenge_method, 'S256', `code_challenge_method, saw ${authorize}`);
    assert.match(params.code_challenge ?? '', /^[\w-]{43}$/, `a code_challenge, saw ${authorize}`);
    for (const name of ['state', 'nonce']) assert.ok(params[name]?.length >= 22, `a random ${name}, saw ${authorize}`);
    assert.equal(params.scope, 'openid profile email', `scope, saw ${authorize}`);
    assert.equal(params.redirect_uri, `${portal.base}/callback`, `redirect_uri, saw ${authorize}`);
    assert.equal(params.idp_hint, 'entra', `idp_hint passed through, saw ${authorize}`);
    assert.ok(op.idpHints.includes('entra'), `the OP received idp_hint=entra, saw ${JSON.stringify(op.idpHints)}`);
    const callback = new URL(page.visited.find((u) => u.startsWith(`${portal.base}/callback?`)));
    assert.equal(callback.searchParams.get('iss'), op.issuer, `RFC 9207 iss in the authorization response, saw ${callback}`);

    const who = textOf(page.text, 'who');
    assert.equal(who, 'Signed in as Pat Doe (pat.doe@mail.example.net, not verified by profile-link) through Microsoft.', `#who, ${saw(page)}`);
    assert.equal(textOf(page.text, 'provider'), 'Microsoft', `#provider, ${saw(page)}`);
    assert.deepEqual(profileItems(page.text), [
      { id: 'prof-1', text: 'Pat Doe, Bakery prof-1' },
      { id: 'prof-2', text: 'Pat Doe, Florist prof-2' },
    ], `#profiles li, ${saw(page)}`);
    assert.equal(element(page.text, 'no-profiles'), undefined, `no #no-profiles when there are profiles, ${saw(page)}`);
    assert.ok(element(page.text, 'refresh') !== undefined && element(page.text, 'sign-out') !== undefined, `#refresh and #sign-out, ${saw(page)}`);
    assert.doesNotMatch(page.text, /eyJ/, `no token on the page, ${saw(page)}`);

    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/, `a strict CSP, saw ${csp}`);
    assert.match(csp, new RegExp(`form-action 'self' ${op.issuer}`), `form-action allows the OP (logout redirects there), saw ${csp}`);
  });

  test("the session cookie is HttpOnly and SameSite=Lax, and a new one is issued at sign-in", async () => {
    const browser = new Browser();
    await opRunning();
    const start = await browser.request(`${portal.base}/login`);
    const setCookie = start.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^demo_portal_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/, `the session cookie at /login, saw ${setCookie}`);
    const before = browser.cookieFor(new URL(portal.base), 'demo_portal_session');
    await browser.follow(new URL(start.location).href);
    const after = browser.cookieFor(new URL(portal.base), 'demo_portal_session');
    assert.ok(after && after !== before, `a new session id after sign-in, saw ${before} then ${after}`);
  });

  test('refresh asks userinfo again and replaces the profile list', async () => {
    const browser = new Browser();
    const page = await signIn(browser);
    const pat = op.accounts['sub-pat'];
    const original = pat.profiles;
    pat.profiles = [...original, { id: 'prof-3', name: 'Pat Doe', organization: 'Garage' }];
    try {
      const refreshed = await postForm(browser, page, '/refresh');
      assert.equal(refreshed.status, 200, `after POST /refresh, ${saw(refreshed)}`);
      assert.deepEqual(profileItems(refreshed.text).map((p) => p.id), ['prof-1', 'prof-2', 'prof-3'], `#profiles li after refresh, ${saw(refreshed)}`);
      assert.equal(textOf(refreshed.text, 'notice'), 'Refreshed from profile-link just now.', `#notice, ${saw(refreshed)}`);
      const again = await browser.follow(`${portal.base}/`);
      assert.equal(element(again.text, 'notice'), undefined, `the notice is shown once, ${saw(again)}`);
    } finally {
      pat.profiles = original;
    }
  });

  test('refresh with an expired access token says so and offers to sign in again', async () => {
    const browser = new Browser();
    await opRunning();
    op.accessTokenTtl = 1;
    let page;
    try {
      page = await signIn(browser);
    } finally {
      op.accessTokenTtl = 3600;
    }
    await new Promise((r) => setTimeout(r, 2100));
    const refreshed = await postForm(browser, page, '/refresh');
    assert.equal(refreshed.status, 200, `after POST /refresh, ${saw(refreshed)}`);
    assert.match(textOf(refreshed.text, 'error') ?? '', /expired.*sign in again.*invalid_token/s, `#error, ${saw(refreshed)}`);
    assert.match(refreshed.text, /<a id="sign-in-again"[^>]*href="\/login"/, `a #sign-in-again link, ${saw(refreshed)}`);
    assert.equal(profileItems(refreshed.text).length, 2, `the profiles from sign-in stay listed, ${saw(refreshed)}`);
  });

  test('someone with no customer profiles yet is told to link them at profile-link', async () => {
    const browser = new Browser();
    await opRunning();
    op.nextAccount = 'sub-sam';
    let page;
    try {
      page = await signIn(browser);
    } finally {
      op.nextAccount = 'sub-pat';
    }
    assert.equal(textOf(page.text, 'provider'), 'Google', `#provider, ${saw(page)}`);
    assert.match(textOf(page.text, 'no-profiles') ?? '', /no customer profiles yet.*link them at profile-link/, `#no-profiles, ${saw(page)}`);
    assert.equal(element(page.text, 'profiles'), undefined, `no #profiles list, ${saw(page)}`);
  });

  test('hostile names from the provider are shown as text', async () => {
    const browser = new Browser();
    await opRunning();
    op.accounts['sub-eve'] = {
      name: '<script>alert(1)</script>', email: '"><img src=x onerror=alert(1)>', idp: 'dev', idp_name: '{operator}',
      profiles: [{ id: '"><b>x', name: '$& $\' {operator}', organization: '</li><script>alert(2)</script>' }],
    };
    op.nextAccount = 'sub-eve';
    let page;
    try {
      page = await signIn(browser);
    } finally {
      op.nextAccount = 'sub-pat';
    }
    assert.doesNotMatch(page.text, /<script|<img|<b>/, `no markup from the claims, ${saw(page)}`);
    assert.equal(textOf(page.text, 'provider'), '{operator}', `#provider shown literally, ${saw(page)}`);
    assert.deepEqual(profileItems(page.text), [{ id: '"><b>x', text: '$& $\' {operator}, </li><script>alert(2)</script> "><b>x' }], `#profiles li, ${saw(page)}`);
  });

  test('prompt=none without a session at profile-link ends on #error with login_required and a Sign in button', async () => {
    const browser = new Browser();
    await opRunning();
    const page = await browser.follow(`${portal.base}/login?prompt=none`);
    assert.equal(page.status, 400, `the callback with error=login_required, ${saw(page)}`);
    assert.match(textOf(page.text, 'error') ?? '', /not signed in at profile-link.*login_required/s, `#error, ${saw(page)}`);
    assert.match(page.text, /<a id="sign-in"[^>]*href="\/login"/, `a #sign-in link, ${saw(page)}`);
  });

  test('a callback with a wrong state, or with no sign-in in progress, ends on #error with 400', async () => {
    const browser = new Browser();
    const { issuer } = await opRunning();
    const start = await browser.request(`${portal.base}/login`);
    assert.equal(start.status, 302, `/login, ${saw(start)}`);
    const query = new URLSearchParams({ code: 'forged-code', state: 'not-the-state', iss: issuer });
    const wrong = await browser.follow(`${portal.base}/callback?${query}`);
    assert.equal(wrong.status, 400, `a callback with a wrong state, ${saw(wrong)}`);
    assert.match(textOf(wrong.text, 'error') ?? '', /does not belong to the sign-in this browser started/, `#error, ${saw(wrong)}`);

    const stranger = await new Browser().follow(`${portal.base}/callback?${query}`);
    assert.equal(stranger.status, 400, `a callback without a session, ${saw(stranger)}`);
    assert.match(textOf(stranger.text, 'error') ?? '', /no sign-in in progress.*no_sign_in_in_progress/s, `#error, ${saw(stranger)}`);
  });

  test('sign out clears the session here and at profile-link (RP-initiated logout), then / is signed out', async () => {
    const browser = new Browser();
    const page = await signIn(browser);
    const form = forms(page.text).find((f) => f.action === '/logout');
    const out = await browser.request(`${portal.base}/logout`, { method: 'POST', form: form.fields });
    assert.equal(out.status, 303, `POST /logout, ${saw(out)}`);
    const endSession = new URL(out.location);
    assert.equal(`${endSession.origin}${endSession.pathname}`, `${op.issuer}/end-session`, `a redirect to the end_session_endpoint, saw ${out.location}`);
    assert.match(endSession.searchParams.get('id_token_hint') ?? '', /^eyJ/, `an id_token_hint, saw ${out.location}`);
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${portal.base}/`, `post_logout_redirect_uri, saw ${out.location}`);
    assert.ok(endSession.searchParams.get('state'), `a state, saw ${out.location}`);

    const confirm = await browser.follow(endSession.href);
    const [confirmForm] = forms(confirm.text);
    assert.ok(confirmForm?.fields.xsrf, `the OP's sign-out confirmation, ${saw(confirm)}`);
    const back = await browser.follow(new URL(confirmForm.action, confirm.url).href, { method: 'POST', form: confirmForm.fields });
    assert.equal(new URL(back.url).pathname, '/', `back at the portal, ${saw(back)}`);
    assert.ok(element(back.text, 'sign-in') !== undefined && element(back.text, 'who') === undefined, `signed out at the portal, ${saw(back)}`);

    const silent = await browser.follow(`${portal.base}/login?prompt=none`);
    assert.match(textOf(silent.text, 'error') ?? '', /login_required/, `signed out at the OP too, ${saw(silent)}`);
  });

  test('prompt=none with a session at profile-link signs in without asking', async () => {
    const browser = new Browser();
    await signIn(browser);
    // A new visit to the portal (its cookie gone), while the OP's session stays.
    browser.cookies = browser.cookies.filter((c) => c.name !== 'demo_portal_session');
    const page = await signIn(browser, '?prompt=none');
    assert.equal(profileItems(page.text).length, 2, `signed in again silently, ${saw(page)}`);
  });

  test("third-party-initiated login: the issuer's own iss starts the flow, any other is 400", async () => {
    const { issuer } = await opRunning();
    const browser = new Browser();
    const good = await browser.request(`${portal.base}/login?iss=${encodeURIComponent(issuer)}`);
    assert.equal(good.status, 302, `/login?iss=<issuer>, ${saw(good)}`);
    assert.ok(good.location?.startsWith(`${issuer}/authorize?`), `to the authorization endpoint, saw ${good.location}`);
    const bad = await browser.request(`${portal.base}/login?iss=${encodeURIComponent('https://attacker.example')}`);
    assert.equal(bad.status, 400, `/login?iss=<another issuer>, ${saw(bad)}`);
    const badPrompt = await browser.request(`${portal.base}/login?prompt=consent`);
    assert.equal(badPrompt.status, 400, `/login?prompt=consent, ${saw(badPrompt)}`);
  });

  test('POST forms without the session CSRF token are refused with 403', async () => {
    const browser = new Browser();
    const page = await signIn(browser);
    for (const action of ['/refresh', '/logout']) {
      const response = await browser.request(`${portal.base}${action}`, { method: 'POST', form: { csrf: 'forged' } });
      assert.equal(response.status, 403, `POST ${action} with a forged token, ${saw(response)}`);
    }
    const still = await browser.follow(`${portal.base}/`);
    assert.deepEqual(profileItems(still.text), profileItems(page.text), `still signed in, ${saw(still)}`);
  });

  test('/healthz answers ok; another host name for the portal is sent to 127.0.0.1', async () => {
    const health = await fetch(`${portal.base}/healthz`);
    const body = await health.text();
    assert.equal(`${health.status} ${body}`, '200 ok', `/healthz, saw ${health.status} ${body}`);
    const port = new URL(portal.base).port;
    const other = await fetch(`http://localhost:${port}/?x=1`, { redirect: 'manual' }).catch((error) => error);
    if (other instanceof Error) return; // localhost resolves elsewhere here (IPv6 only): nothing to check
    assert.equal(`${other.status} ${other.headers.get('location')}`, `308 ${portal.base}/?x=1`, `GET via localhost, saw ${other.status} ${other.headers.get('location')}`);
  });
});
