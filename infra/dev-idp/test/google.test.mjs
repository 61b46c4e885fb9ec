// The Google-like dev provider, driven over HTTP as profile-link would drive
// accounts.google.com: prompt values, max_age and auth_time, email_verified, hd.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../../testing/harness.mjs';
import { authorizationRequest, discover, signIn, startServer } from '../testing/relying-party.mjs';

const SECRET = 'local-google-secret';
const redirectUri = 'http://localhost:8124/login/callback/google';
let server;
let google;
before(async () => {
  server = await startServer();
  const doc = await discover(`${server.base}/google`);
  google = { authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, jwksUri: doc.jwks_uri, redirectUri, secret: SECRET };
});
after(() => server?.stop());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('discovery', () => {
  test('issuer is /google; the token endpoint takes client_secret_basic and client_secret_post', async () => {
    const doc = await discover(`${server.base}/google`);
    assert.equal(doc.issuer, `${server.base}/google`);
    assert.equal(doc.authorization_endpoint, `${server.base}/google/o/oauth2/v2/auth`);
    assert.deepEqual([...doc.token_endpoint_auth_methods_supported].sort(), ['client_secret_basic', 'client_secret_post']);
  });
});

describe('prompt', () => {
  for (const prompt of ['login', 'login consent', 'bogus']) {
    test(`prompt=${prompt} ends on Google's error page, with no redirect back`, async () => {
      const response = await new Browser().request(authorizationRequest(google.authorizationEndpoint, { redirectUri, prompt }).url);
      assert.equal(response.status, 400);
      assert.equal(response.location, null);
      assert.match(response.text, /Error 400: invalid_request/);
      assert.match(response.text, /Invalid parameter value for prompt/);
    });
  }

  test('prompt=consent and prompt=select_account are accepted', async () => {
    const browser = new Browser();
    const consent = await signIn(browser, { ...google, login: 'pat', prompt: 'consent' });
    assert.equal(consent.token.status, 200);
    const chosen = await signIn(browser, { ...google, prompt: 'select_account', choose: 'continue' });
    assert.deepEqual(chosen.seen, ['chooser']);
    assert.equal(chosen.claims.sub, consent.claims.sub);
    assert.equal(chosen.claims.auth_time, undefined, 'no max_age, no auth_time');
  });

  test('prompt=none without a session answers login_required at the redirect URI', async () => {
    const result = await signIn(new Browser(), { ...google, prompt: 'none' });
    assert.equal(result.error, 'login_required');
    assert.equal(result.callback.searchParams.get('iss'), null, 'no RFC 9207 iss');
  });
});

describe('max_age and auth_time', () => {
  test('without max_age the ID token has no auth_time; email_verified is there (client_secret_post)', async () => {
    const { claims, token } = await signIn(new Browser(), { ...google, login: 'pat', method: 'client_secret_post' });
    assert.equal(token.status, 200);
    assert.equal(claims.iss, `${server.base}/google`);
    assert.equal(claims.sub, '108392718463920174652');
    assert.equal(claims.auth_time, undefined);
    assert.equal(claims.email_verified, true);
    assert.equal(claims.hd, undefined);
  });

  test('a known session answers prompt=none silently', async () => {
    const browser = new Browser();
    const first = await signIn(browser, { ...google, login: 'pat' });
    const silent = await signIn(browser, { ...google, prompt: 'none' });
    assert.deepEqual(silent.seen, []);
    assert.equal(silent.claims.sub, first.claims.sub);
    assert.equal(silent.callback.searchParams.get('iss'), null);
  });

  test('max_age=0 asks for the password again and the ID token carries a fresh auth_time (client_secret_basic)', async () => {
    const browser = new Browser();
    const first = await signIn(browser, { ...google, login: 'pat', max_age: '3600' });
    assert.equal(typeof first.claims.auth_time, 'number');
    const silent = await signIn(browser, { ...google, login: 'pat', max_age: '3600' });
    assert.deepEqual(silent.seen, [], 'a session younger than max_age needs no form');
    await sleep(1100);
    const fresh = await signIn(browser, { ...google, login: 'pat', max_age: '0', method: 'client_secret_basic' });
    assert.ok(fresh.seen.includes('password'));
    assert.ok(fresh.claims.auth_time > first.claims.auth_time);
  });

  test('a Workspace user carries hd', async () => {
    const { claims } = await signIn(new Browser(), { ...google, login: 'sam' });
    assert.equal(claims.hd, 'fabrikam.example');
    assert.equal(claims.email, 'sam@fabrikam.example');
  });
});
