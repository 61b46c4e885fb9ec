// Back-Channel Logout 1.0 at the demo portal: the real portal (server.mjs)
// signed in against a real OP (oidc-provider), then logout tokens POSTed to
// /backchannel-logout, signed here with the OP's keys as profile-link signs
// them (valid, and each way §2.6 says to refuse one).

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as jose from 'jose';
import { Browser, element, freePort } from '../../testing/harness.mjs';
import { profileItems, startOp, startPortal } from '../testing/harness.mjs';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let portal;
let op;
before(async () => {
  const opPort = await freePort();
  portal = await startPortal({ port: await freePort(), issuer: `http://127.0.0.1:${opPort}` });
  op = await startOp({ port: opPort, portalOrigin: portal.base });
});
after(async () => {
  await portal?.stop();
  await op?.stop();
});

// pat signed in at the portal: the browser and the claims of the ID token the portal holds.
async function signedIn() {
  const browser = new Browser();
  const page = await browser.follow(`${portal.base}/login`);
  assert.equal(profileItems(page.text).length, 2, `signed in with pat's two profiles, saw ${page.status} at ${page.url}`);
  const claims = jose.decodeJwt(op.idTokens.at(-1));
  assert.ok(claims.sid, `the ID token carries sid, saw ${JSON.stringify(claims)}`);
  return { browser, claims };
}

async function signedInStill(browser) {
  const page = await browser.follow(`${portal.base}/`);
  return element(page.text, 'who') !== undefined;
}

// A logout token as profile-link signs one (RS256, typ logout+jwt), with `claims` changed.
async function logoutToken(claims, { key = op.keys.rsa, alg = 'RS256', typ = 'logout+jwt', drop = [] } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const body = {
    iss: op.issuer, aud: 'demo-portal', iat: now, exp: now + 120, jti: jose.base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
    events: { [EVENT]: {} }, ...claims,
  };
  for (const name of drop) delete body[name];
  return new jose.SignJWT(body).setProtectedHeader({ alg, ...(typ && { typ }) }).sign(key);
}

async function post(token, { contentType = 'application/x-www-form-urlencoded', body } = {}) {
  const response = await fetch(`${portal.base}/backchannel-logout`, {
    method: 'POST', headers: { 'content-type': contentType }, body: body ?? new URLSearchParams({ logout_token: token }),
  });
  const text = await response.text();
  return { status: response.status, text, json: (() => { try { return JSON.parse(text); } catch { return undefined; } })() };
}

describe('back-channel logout at the demo portal', () => {
  test('a valid logout token for the sid ends that session (200), and only that one', async () => {
    const pat = await signedIn();
    const other = await signedIn();
    const answer = await post(await logoutToken({ sub: pat.claims.sub, sid: pat.claims.sid }));
    assert.equal(answer.status, 200, `POST /backchannel-logout, saw ${answer.status} ${answer.text}`);
    assert.equal(answer.json?.ended, 1, `one session ended, saw ${answer.text}`);
    assert.equal(await signedInStill(pat.browser), false, 'the sid\'s session is signed out');
    assert.equal(await signedInStill(other.browser), true, 'the other session (another sid) is still signed in');
  });

  test('a token with only sub ends every session of that subject', async () => {
    const one = await signedIn();
    const two = await signedIn();
    const answer = await post(await logoutToken({ sub: one.claims.sub }));
    assert.equal(`${answer.status} ${answer.json?.ended >= 2}`, '200 true', `saw ${answer.status} ${answer.text}`);
    assert.equal(await signedInStill(one.browser) || await signedInStill(two.browser), false, 'both sessions signed out');
  });

  test('invalid tokens are refused with 400 and a JSON error, and end nothing', async () => {
    const pat = await signedIn();
    const named = { sub: pat.claims.sub, sid: pat.claims.sid };
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const cases = {
      'wrong signature (another key)': [await logoutToken(named, { key: stranger }), /signature/],
      'wrong aud': [await logoutToken({ ...named, aud: 'another-portal' }), /aud/],
      'wrong iss': [await logoutToken({ ...named, iss: 'https://attacker.example' }), /iss/],
      'nonce present': [await logoutToken({ ...named, nonce: 'n-0S6_WzA2Mj' }), /nonce/],
      'events missing': [await logoutToken(named, { drop: ['events'] }), /events/],
      'events without the logout event': [await logoutToken({ ...named, events: { 'http://example.com/other': {} } }), /events/],
      expired: [await logoutToken({ ...named, iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }), /exp/],
      'iat missing': [await logoutToken(named, { drop: ['iat'] }), /iat/],
      'neither sid nor sub': [await logoutToken({}, { drop: ['sub', 'sid'] }), /sid or sub/],
      'typ of an ID token': [await logoutToken(named, { typ: 'JWT' }), /typ/],
      'ES256 (the portal registered RS256)': [await logoutToken(named, { key: op.keys.ec, alg: 'ES256' }), /alg/],
      'not a JWT': ['not-a-jwt', /not accepted/],
      'no token': ['', /no logout_token/],
    };
    for (const [name, [token, says]] of Object.entries(cases)) {
      const answer = await post(token);
      assert.equal(answer.status, 400, `${name}: saw ${answer.status} ${answer.text}`);
      assert.equal(answer.json?.error, 'invalid_request', `${name}: a JSON error, saw ${answer.text}`);
      assert.match(answer.json?.error_description ?? '', says, `${name}: the error says why, saw ${answer.text}`);
    }
    const json = await post(undefined, { contentType: 'application/json', body: JSON.stringify({ logout_token: 'x' }) });
    assert.equal(json.status, 400, `a JSON body, saw ${json.status} ${json.text}`);
    const huge = await post(undefined, { body: `logout_token=${'a'.repeat(64 * 1024)}` }).catch((error) => ({ status: 'reset', text: error.message }));
    assert.ok(huge.status === 400 || huge.status === 'reset', `a 64 KiB body, saw ${huge.status} ${huge.text}`);
    assert.equal(await signedInStill(pat.browser), true, 'still signed in after every refused token');
  });
});
