// profile-link as a customer uses it: Debian's chromium (headless), driven by
// playwright-core, against the dev server, the dev identity provider and the
// AWS emulator that scripts/test started. Every page is checked with axe-core
// and photographed into artifacts/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const BASE = process.env.E2E_BASE_URL;
const IDP = process.env.E2E_IDP_URL;
// The demo portal (infra/demo-portal): a company's portal signing in with profile-link as its OpenID Provider.
const PORTAL = process.env.E2E_PORTAL_URL;
const SHOTS = process.env.E2E_ARTIFACTS || 'artifacts/e2e';
assert.ok(BASE && IDP && PORTAL, 'E2E_BASE_URL, E2E_IDP_URL and E2E_PORTAL_URL are set by scripts/test');
mkdirSync(SHOTS, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // This machine has no network beyond loopback: keep Chromium from trying.
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => browser?.close());

/// A fresh browser profile. `bypassCSP` only lets axe's script in; pages are unchanged.
async function person({ locale = 'en-GB', phone = false } = {}) {
  const context = await browser.newContext({
    locale,
    bypassCSP: true,
    viewport: phone ? { width: 390, height: 844 } : { width: 1000, height: 760 },
  });
  return context.newPage();
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/// axe-core on the current page: no serious or critical violation.
async function accessible(page, name) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(' ')})`), [], `${name}: accessibility`);
}

async function page_is(page, name, heading) {
  await page.waitForLoadState('load');
  if (heading) assert.match(await page.locator('h1').first().innerText(), heading, `${name}: heading`);
  await shot(page, name);
  if (page.url().startsWith(BASE)) await accessible(page, name);
}

/// The dev identity provider's own login page (through the sign-in page's
/// button when a link, opened without a session, asks which provider).
async function signInAtProvider(page, user, account = user) {
  await page.waitForURL((url) => url.href.startsWith(IDP) || url.href.startsWith(`${BASE}/login`));
  if (page.url().startsWith(BASE)) await page.getByRole('link', { name: /Dev provider/ }).click();
  await page.waitForURL((url) => url.href.startsWith(IDP));
  await page.waitForLoadState('load');
  // Microsoft's tenant-independent endpoints first ask who signs in.
  const who = page.getByLabel('Email, phone or Skype');
  if (await who.count()) {
    await who.fill(account);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.waitForLoadState('load');
  }
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill('demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.href.startsWith(BASE));
}

/// The redeem links in the local mailbox for `address`, waiting for at least `count`.
async function linksInMailbox(page, address, count) {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    await page.goto(`${BASE}/dev/mailbox`);
    const links = await page.locator('article', { hasText: `To: ${address}` })
      .locator('a[href*="/redeem?token="]').evaluateAll((as) => as.map((a) => a.href));
    if (links.length >= count) return links;
    await page.waitForTimeout(200);
  }
  assert.fail(`fewer than ${count} emails reached ${address}`);
}

/// Time passes for a person between reading one page and clicking the next link;
/// the dev server's clock is moved instead of sleeping.
async function later(page, seconds) {
  const moved = await page.request.post(`${BASE}/dev/clock?advance=${seconds}`);
  assert.equal(moved.status(), 200, 'the dev server lets tests move its clock');
}

async function requestFor(page, address) {
  await page.goto(`${BASE}/associate`);
  await page.getByLabel('Email address registered with us').fill(address);
  await page.getByRole('button', { name: 'Send the emails' }).click();
  await page.waitForLoadState('load');
}

test('pat links both profiles by following the seed steps, from the portal and back to it', async () => {
  const page = await person();
  // The company's portal: its Sign in goes to profile-link, its OpenID Provider.
  await page.goto(PORTAL);
  await shot(page, '00-portal-signed-out');
  await page.locator('#sign-in').click();
  await page.waitForURL((url) => url.href.startsWith(`${BASE}/login`));
  // A button per provider the dev identity provider imitates.
  await page_is(page, '02-choose-provider', /How do you want to sign in/);
  const buttons = await page.locator('ul.providers a').allInnerTexts();
  assert.deepEqual(buttons, [
    'Sign in with Dev provider', 'Sign in with Microsoft', 'Sign in with Microsoft (work or personal)', 'Sign in with Google',
    'Sign in with Microsoft (certificate)', // scripts/test adds it through DEV_PROVIDERS_FILE
  ]);
  await page.getByRole('link', { name: 'Sign in with Dev provider' }).click();
  await page.waitForURL((url) => url.href.startsWith(IDP));
  await shot(page, '02-identity-provider');
  await signInAtProvider(page, 'pat');
  // No profile linked yet: the seed flow, or the portal without.
  await page_is(page, '03-link-or-continue', /Link your customer profile/);
  assert.match(await page.content(), /Continue to Demo portal without linking/);

  await page.locator('#link-a-profile').click();
  await page_is(page, '04-enter-address', /Which email address is registered/);
  await page.getByLabel('Email address registered with us').fill('  PAT@example.com ');
  await page.getByRole('button', { name: 'Send the emails' }).click();
  await page_is(page, '05-check-inbox', /Check your inbox/);

  const links = await linksInMailbox(page, 'pat@example.com', 2);
  await shot(page, '06-mailbox');
  assert.equal(new Set(links).size, 2, 'one email, with its own link, per profile');

  for (const [i, link] of links.entries()) {
    await later(page, 30); // reading the email
    await page.goto(link);
    await signInAtProvider(page, 'pat'); // each link asks for a fresh sign-in
    await page.waitForURL(`${BASE}/redeem`);
    assert.ok(!page.url().includes('token'), 'the token left the address bar');
    await page_is(page, `07-confirm-${i + 1}`, /^Link Pat Doe to Pat Doe/);
    await page.getByRole('button', { name: 'Yes, link this profile' }).click();
    await page_is(page, `08-linked-${i + 1}`, /Your profile is linked/);
  }

  // Back to the portal, with a fresh code: it lists both profiles from the ID token.
  await page.getByRole('link', { name: 'Back to Demo portal' }).click();
  await page.waitForURL((url) => url.href.startsWith(PORTAL));
  await page.waitForLoadState('load');
  await shot(page, '09-portal-with-profiles');
  assert.match(await page.locator('#who').innerText(), /through Dev provider/);
  const ids = await page.locator('#profiles li').evaluateAll((lis) => lis.map((li) => li.dataset.profileId));
  assert.deepEqual(ids.sort(), ['CUST-1001', 'CUST-1002'], 'the portal knows both profiles');
  const listed = await page.locator('#profiles li').allInnerTexts();
  assert.ok(listed.some((t) => t.includes('Doe Family Bakery')) && listed.some((t) => t.includes('Northwind Consulting')), listed.join(' | '));
  // userinfo says the same, read fresh.
  await page.locator('#refresh').click();
  await page.waitForLoadState('load');
  assert.equal(await page.locator('#profiles li').count(), 2, 'after a refresh from userinfo');

  // profile-link's own account page says the same.
  await page.goto(BASE);
  await page_is(page, '10-account-with-profiles', /You are signed in/);
  assert.equal((await page.locator('ul.profiles li').allInnerTexts()).length, 2);
  const me = await (await page.request.get(`${BASE}/me`)).json();
  assert.deepEqual(me.profiles.map((p) => p.profile_id).sort(), ['CUST-1001', 'CUST-1002']);

  // A returning person whose session is live is back in the portal in one click.
  await page.goto(PORTAL);
  await page.locator('#sign-out').click();
  await page.waitForURL((url) => url.href.startsWith(PORTAL));
  await page.waitForLoadState('load');
  assert.equal(await page.locator('#sign-in').count(), 1, 'signed out of the portal');
  await page.goto(BASE);
  await page_is(page, '11-signed-out-everywhere', /Link your sign-in/);

  // The same pages on a phone.
  const phone = await person({ phone: true });
  await phone.goto(BASE);
  await shot(phone, '12-phone-welcome');
  await phone.context().close();
  await page.context().close();
});

test('a person signed in at profile-link is back in the portal in one click', async () => {
  const page = await person();
  await page.goto(`${BASE}/login?provider=dev`);
  await signInAtProvider(page, 'pat');
  await page.goto(PORTAL);
  await page.locator('#sign-in').click();
  await page.waitForURL((url) => url.href.startsWith(PORTAL) && !url.href.includes('/callback'));
  await page.waitForLoadState('load');
  assert.equal(await page.locator('#profiles li').count(), 2, 'straight back, with pat\'s profiles');
  await page.context().close();
});

test('pat links a profile through each provider the dev server imitates', async () => {
  // [11]: Entra's organizations and common endpoints (a tenant-specific iss
  // with tid; auth_time from the optional claim) and Google (which refuses
  // prompt=login: the fresh sign-in asks with max_age=0).
  const providers = [
    { label: 'Microsoft', account: 'pat@contoso.example', profile: /Doe Family Bakery/ },
    { label: 'Microsoft (work or personal)', account: 'pat@contoso.example', profile: /Northwind Consulting/ },
    { label: 'Google', account: 'pat', profile: /Doe Family Bakery/ },
    // Added through DEV_PROVIDERS_FILE; authenticates with private_key_jwt (RFC 7523).
    { label: 'Microsoft (certificate)', account: 'pat@contoso.example', profile: /Northwind Consulting/ },
  ];
  const probe = await person();
  const seen = new Set(await linksInMailbox(probe, 'pat@example.com', 0));
  await probe.context().close();
  for (const [i, { label, account, profile }] of providers.entries()) {
    const page = await person();
    await page.goto(`${BASE}/login?return_to=/associate`);
    await page.getByRole('link', { name: `Sign in with ${label}`, exact: true }).click();
    await signInAtProvider(page, 'pat', account);
    await page_is(page, `30-${i}-enter-address`, /Which email address is registered/);
    await requestFor(page, 'pat@example.com');
    const links = (await linksInMailbox(page, 'pat@example.com', seen.size + 2)).filter((l) => !seen.has(l));
    assert.equal(links.length, 2, `${label}: one new email per profile`);
    links.forEach((l) => seen.add(l));
    let opened = false;
    for (const link of links) {
      await later(page, 30);
      await page.goto(link);
      await signInAtProvider(page, 'pat', account); // a fresh sign-in at the same provider
      await page.waitForURL(`${BASE}/redeem`);
      if (!profile.test(await page.content())) continue;
      await page_is(page, `31-${i}-confirm`, /^Link Pat Doe to Pat Doe/);
      await page.getByRole('button', { name: 'Yes, link this profile' }).click();
      await page_is(page, `32-${i}-linked`, /Your profile is linked/);
      opened = true;
      break;
    }
    assert.ok(opened, `${label}: a link for the profile ${profile}`);
    await page.goto(BASE);
    assert.match(await page.locator('dl').innerText(), new RegExp(`Signed in with\\s+${label.replace(/[()]/g, '\\$&')}`), `${label}: the account page names it`);
    assert.match(await page.locator('ul.profiles').innerText(), profile, `${label}: the profile is linked`);
    await page.context().close();
  }
});

test('a mistyped address is explained and kept', async () => {
  const page = await person();
  await page.goto(`${BASE}/login?provider=dev&return_to=/associate`);
  await signInAtProvider(page, 'pat');
  await page.getByLabel('Email address registered with us').fill('pat.example.com');
  await page.getByRole('button', { name: 'Send the emails' }).click();
  await page_is(page, '11-address-error', /Which email address is registered/);
  assert.match(await page.locator('.error').innerText(), /needs an @/);
  assert.equal(await page.getByLabel('Email address registered with us').inputValue(), 'pat.example.com');
  await page.context().close();
});

test('sam opening a link pat asked for is refused', async () => {
  const pat = await person();
  await pat.goto(`${BASE}/login?provider=dev&return_to=/associate`);
  await signInAtProvider(pat, 'pat');
  await requestFor(pat, 'alex@example.net');
  const [link] = await linksInMailbox(pat, 'alex@example.net', 1);
  await later(pat, 30);

  const sam = await person();
  await sam.goto(link);
  await signInAtProvider(sam, 'sam');
  await page_is(sam, '12-wrong-account', /different account/);
  assert.match(await sam.content(), /p\*\*\*@mail\.example\.net/, 'names the sign-in that asked, masked');
  await pat.context().close();
  await sam.context().close();
});

test('an expired link offers a new one', async () => {
  const page = await person();
  await page.goto(`${BASE}/login?provider=dev&return_to=/associate`);
  await signInAtProvider(page, 'pat');
  await requestFor(page, 'sam.roe@example.org');
  const [link] = await linksInMailbox(page, 'sam.roe@example.org', 1);

  await later(page, 3601);
  await page.goto(link);
  await signInAtProvider(page, 'pat');
  await page_is(page, '13-expired', /This link has expired/);
  await page.getByRole('button', { name: 'Send me a new link' }).click();
  await page_is(page, '14-new-link-sent', /sent you a new link/);
  await linksInMailbox(page, 'sam.roe@example.org', 2);
  await page.context().close();
});

test('error pages say what happened and what to do', async () => {
  const page = await person();
  await page.goto(`${BASE}/redeem?token=not-a-token`);
  await page_is(page, '15-malformed-link', /not complete/);
  await page.goto(`${BASE}/login/callback/dev?code=x&state=unknown`);
  await page_is(page, '16-expired-sign-in', /sign-in has expired/);
  assert.ok(await page.getByRole('link', { name: 'Sign in again' }).isVisible());
  await page.context().close();
});

test('a German browser gets German pages', async () => {
  const page = await person({ locale: 'de-DE' });
  await page.goto(BASE);
  await page_is(page, '17-de-welcome', /Verknüpfen Sie Ihre Anmeldung/);
  assert.equal(await page.locator('html').getAttribute('lang'), 'de');
  await page.getByRole('link', { name: 'Anmelden' }).click();
  await page_is(page, '17-de-choose-provider', /Wie möchten Sie sich anmelden/);
  assert.ok(await page.getByRole('link', { name: 'Mit Google anmelden' }).isVisible());
  await signInAtProvider(page, 'pat');
  await page_is(page, '18-de-account', /Sie sind angemeldet/);
  await page.getByRole('link', { name: 'Kundenprofil verknüpfen' }).click();
  await page_is(page, '19-de-enter-address', /Welche E-Mail-Adresse ist bei/);
  await page.getByLabel('Bei uns hinterlegte E-Mail-Adresse').fill('kein-at-zeichen');
  await page.getByRole('button', { name: 'E-Mails anfordern' }).click();
  await page_is(page, '20-de-address-error', /Welche E-Mail-Adresse ist bei/);
  assert.match(await page.locator('.error').innerText(), /braucht ein @/);
  await page.context().close();
});
