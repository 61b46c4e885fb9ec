// A browser-only portal (a public client, PKCE alone) on its own origin reads
// profile-link's discovery document and a /token answer with fetch(); a page
// on an origin no public client registered reads discovery (a public
// document) but not /token. scripts/test registers the public client
// `e2e-spa` with redirect URI http://127.0.0.1:$E2E_SPA_PORT/cb through
// DEV_PORTAL_CLIENTS_FILE, as a portal developer registers theirs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { freePort } from '../../infra/testing/harness.mjs';

const BASE = process.env.E2E_BASE_URL;
const SPA_PORT = Number(process.env.E2E_SPA_PORT);
assert.ok(BASE && SPA_PORT, 'E2E_BASE_URL and E2E_SPA_PORT are set by scripts/test');

/// A page that does nothing by itself: the test runs fetch() in it.
async function serve(port) {
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>portal</title><h1>A browser-only portal</h1>');
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

let browser;
const servers = [];
let other;
before(async () => {
  other = await freePort();
  servers.push(await serve(SPA_PORT), await serve(other));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  for (const server of servers) server.close();
});

/// What a page on `origin` can read of discovery, /token and /userinfo.
async function readFrom(origin) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/`);
  return page.evaluate(async ({ base, origin }) => {
    const attempt = async (f) => {
      try { return await f(); } catch (e) { return `blocked: ${e.name}`; }
    };
    const discovery = await attempt(async () => (await (await fetch(`${base}/.well-known/openid-configuration`)).json()).issuer);
    const jwks = await attempt(async () => (await (await fetch(`${base}/.well-known/jwks.json`)).json()).keys.length > 0);
    const token = await attempt(async () => {
      const body = new URLSearchParams({
        grant_type: 'authorization_code', code: 'no-such-code', client_id: 'e2e-spa',
        redirect_uri: `${origin}/cb`, code_verifier: 'v'.repeat(43),
      });
      const answer = await fetch(`${base}/token`, { method: 'POST', body });
      return `${answer.status} ${(await answer.json()).error}`;
    });
    // A bearer token makes this a preflighted request.
    const userinfo = await attempt(async () => {
      const answer = await fetch(`${base}/userinfo`, { headers: { authorization: 'Bearer not-a-token' } });
      return `${answer.status} ${answer.headers.get('www-authenticate') ? 'challenge' : 'no challenge'}`;
    });
    return { discovery, jwks, token, userinfo };
  }, { base: BASE, origin });
}

test('a public client\'s page reads discovery, JWKS, /token and /userinfo answers from its own origin', async () => {
  const read = await readFrom(`http://127.0.0.1:${SPA_PORT}`);
  assert.deepEqual(read, { discovery: BASE, jwks: true, token: '400 invalid_grant', userinfo: '401 challenge' });
});

test('a page on an origin no public client registered reads the public documents only', async () => {
  const read = await readFrom(`http://127.0.0.1:${other}`);
  assert.deepEqual(read, {
    discovery: BASE, jwks: true, token: 'blocked: TypeError', userinfo: 'blocked: TypeError',
  });
});
