// The Entra-like dev provider, driven over HTTP as profile-link would drive
// login.microsoftonline.com: the organizations/common facade, tenant issuers,
// tid/oid, pairwise sub, the auth_time optional claim per app, private_key_jwt.

import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../../testing/harness.mjs';
import {
  authorizationRequest, clientAssertion, discover, exchange, follow, signIn, startServer, verifyIdToken,
} from '../testing/relying-party.mjs';

const TENANT_A = '3f6c2d1a-8b4e-4c7f-9a15-2e7d0b9c4a61';
const TENANT_B = 'b8e41f07-5d2c-4a96-8e3b-71c9f0a2d5e4';
const CONSUMERS = '9188040d-6c67-4c5b-b112-36a304b66dad';
const SECRET = 'local-entra-secret';
const redirectUri = 'http://127.0.0.1:8123/login/callback/entra';

let server;
let base;
const endpoints = {};
before(async () => {
  server = await startServer();
  base = server.base;
  for (const alias of ['organizations', 'common']) {
    const doc = await discover(`${base}/entra/${alias}/v2.0/.well-known/openid-configuration`);
    endpoints[alias] = { authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, jwksUri: doc.jwks_uri, redirectUri, secret: SECRET };
  }
});
after(() => server?.stop());

const tenantIssuer = (tid) => `${base}/entra/${tid}/v2.0`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('discovery', () => {
  test('organizations and common publish the {tenantid} issuer template literally, with their own endpoints', async () => {
    for (const alias of ['organizations', 'common']) {
      const doc = await discover(`${base}/entra/${alias}/v2.0/.well-known/openid-configuration`);
      assert.equal(doc.issuer, `${base}/entra/{tenantid}/v2.0`);
      assert.equal(doc.authorization_endpoint, `${base}/entra/${alias}/oauth2/v2.0/authorize`);
      assert.equal(doc.token_endpoint, `${base}/entra/${alias}/oauth2/v2.0/token`);
      assert.equal(doc.jwks_uri, `${base}/entra/${alias}/discovery/v2.0/keys`);
      assert.deepEqual([...doc.token_endpoint_auth_methods_supported].sort(), ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
      assert.deepEqual(doc.subject_types_supported, ['pairwise']);
      assert.equal(doc.authorization_response_iss_parameter_supported, undefined);
    }
  });

  test('each tenant, and consumers, name a concrete tenant issuer', async () => {
    for (const tid of [TENANT_A, TENANT_B, CONSUMERS]) {
      const doc = await discover(`${tenantIssuer(tid)}/.well-known/openid-configuration`);
      assert.equal(doc.issuer, tenantIssuer(tid));
      assert.equal(doc.token_endpoint, `${base}/entra/${tid}/oauth2/v2.0/token`);
    }
    const consumers = await discover(`${base}/entra/consumers/v2.0/.well-known/openid-configuration`);
    assert.equal(consumers.issuer, tenantIssuer(CONSUMERS));
    assert.equal(consumers.authorization_endpoint, `${base}/entra/consumers/oauth2/v2.0/authorize`);
  });

  test('the keys are the same at every endpoint', async () => {
    const a = await (await fetch(`${base}/entra/organizations/discovery/v2.0/keys`)).json();
    const b = await (await fetch(`${base}/entra/${TENANT_B}/discovery/v2.0/keys`)).json();
    assert.ok(a.keys.length > 0);
    assert.deepEqual(a, b);
  });
});

describe('the organizations facade', () => {
  test('pat signs in at organizations: asked for the username, then the password at tenant A; iss, tid, oid are tenant A\'s', async () => {
    const result = await signIn(new Browser(), { ...endpoints.organizations, login: 'pat@contoso.example', method: 'client_secret_post' });
    assert.deepEqual(result.seen, ['username', 'password']);
    const { claims } = result;
    assert.equal(claims.iss, tenantIssuer(TENANT_A));
    assert.equal(claims.tid, TENANT_A);
    assert.equal(claims.oid, '6a1f0c3e-2b7d-4e58-a9c4-1d3e5f7a9b20');
    assert.equal(claims.ver, '2.0');
    assert.notEqual(claims.sub, claims.oid);
    assert.match(claims.sub, /^[\w-]{43}$/);
    assert.equal(claims.preferred_username, 'pat@contoso.example');
    assert.equal(typeof claims.auth_time, 'number', 'profile-link-local has the auth_time optional claim');
    // The template filled with the token's own tid is its iss (the RP's check).
    assert.equal(`${base}/entra/{tenantid}/v2.0`.replace('{tenantid}', claims.tid), claims.iss);
  });

  test('sam signs in at organizations and gets tenant B\'s issuer (client_secret_basic); sam has no email claim', async () => {
    const { claims, token } = await signIn(new Browser(), { ...endpoints.organizations, login: 'sam', method: 'client_secret_basic' });
    assert.equal(token.status, 200);
    assert.equal(claims.iss, tenantIssuer(TENANT_B));
    assert.equal(claims.tid, TENANT_B);
    assert.equal(claims.email, undefined);
  });

  test('a personal account is refused at organizations, on Microsoft\'s page', async () => {
    const result = await signIn(new Browser(), { ...endpoints.organizations, login: 'kim' });
    assert.equal(result.callback, undefined);
    assert.equal(result.page.status, 400);
    assert.match(result.page.text, /can&#39;t sign in here with a personal account/);
  });

  test('common takes the personal account: iss is the consumer tenant\'s', async () => {
    const { claims } = await signIn(new Browser(), { ...endpoints.common, login: 'kim@outlook.example', method: 'client_secret_post' });
    assert.equal(claims.iss, tenantIssuer(CONSUMERS));
    assert.equal(claims.tid, CONSUMERS);
    assert.match(claims.oid, /^00000000-0000-0000-/);
  });

  test('the consumers endpoint signs a personal account in directly, as the consumer tenant', async () => {
    const doc = await discover(`${base}/entra/consumers/v2.0/.well-known/openid-configuration`);
    const { claims } = await signIn(new Browser(), {
      authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, jwksUri: doc.jwks_uri,
      redirectUri, secret: SECRET, login: 'kim',
    });
    assert.equal(claims.iss, doc.issuer);
    assert.equal(claims.tid, CONSUMERS);
  });

  test('prompt=none signs the last account in silently at common, and answers interaction_required without one; no iss in either response', async () => {
    const browser = new Browser();
    await signIn(browser, { ...endpoints.common, login: 'sam' });
    const silent = await signIn(browser, { ...endpoints.common, prompt: 'none' });
    assert.deepEqual(silent.seen, []);
    assert.equal(silent.claims.tid, TENANT_B);
    assert.equal(silent.callback.searchParams.get('iss'), null, 'Entra sends no RFC 9207 iss');
    const fresh = await signIn(new Browser(), { ...endpoints.common, prompt: 'none' });
    assert.equal(fresh.error, 'interaction_required');
    const atTenant = await signIn(new Browser(), { ...endpoints.organizations, prompt: 'none', login_hint: 'pat@contoso.example' });
    assert.equal(atTenant.error, 'login_required');
    assert.equal(atTenant.callback.searchParams.get('iss'), null);
  });

  test('login_hint skips the username page; domain_hint goes straight to the tenant', async () => {
    const hinted = await signIn(new Browser(), { ...endpoints.organizations, login: 'sam', login_hint: 'sam@fabrikam.example' });
    assert.deepEqual(hinted.seen, ['password']);
    assert.equal(hinted.claims.tid, TENANT_B);
    const domain = await signIn(new Browser(), { ...endpoints.organizations, login: 'pat', domain_hint: 'contoso.example' });
    assert.deepEqual(domain.seen, ['password']);
    assert.equal(domain.claims.tid, TENANT_A);
  });

  test('an unknown application or redirect URI gets Entra\'s error page, never a redirect', async () => {
    const browser = new Browser();
    const unknown = await browser.request(authorizationRequest(endpoints.organizations.authorizationEndpoint, { clientId: 'nobody', redirectUri }).url);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.location, null);
    assert.match(unknown.text, /AADSTS700016/);
    const wrong = await browser.request(authorizationRequest(endpoints.organizations.authorizationEndpoint, { redirectUri: 'http://evil.example/cb' }).url);
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /AADSTS50011/);
  });

  test('a code is redeemed only once, and only by the client it was issued to', async () => {
    const browser = new Browser();
    const request = authorizationRequest(endpoints.organizations.authorizationEndpoint, { redirectUri });
    const { callback } = await follow(browser, request.url, { redirectUri, login: 'pat' });
    const code = callback.searchParams.get('code');
    const wrongClient = await exchange(endpoints.organizations.tokenEndpoint, { code, verifier: request.verifier, redirectUri, clientId: 'profile-link-no-auth-time', secret: SECRET });
    assert.equal(wrongClient.status, 400);
    assert.equal(wrongClient.body.error, 'invalid_grant');
    const wrongSecret = await exchange(endpoints.organizations.tokenEndpoint, { code, verifier: request.verifier, redirectUri, secret: 'nope' });
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.body.error, 'invalid_client');
  });
});

describe('private_key_jwt', () => {
  const privateKeyPem = readFileSync(new URL('../dev-client-key.pem', import.meta.url));
  const jwk = createPublicKey(privateKeyPem).export({ format: 'jwk' });
  const kid = createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
  const clientId = 'profile-link-local-jwt';

  async function codeFor(endpointsOf) {
    const browser = new Browser();
    const request = authorizationRequest(endpointsOf.authorizationEndpoint, { clientId, redirectUri });
    const { callback } = await follow(browser, request.url, { redirectUri, login: 'sam' });
    return { code: callback.searchParams.get('code'), verifier: request.verifier };
  }

  test('an assertion for the organizations token endpoint is accepted there; the token is tenant B\'s', async () => {
    const { code, verifier } = await codeFor(endpoints.organizations);
    const assertion = clientAssertion({ clientId, audience: endpoints.organizations.tokenEndpoint, privateKeyPem, kid });
    const token = await exchange(endpoints.organizations.tokenEndpoint, { code, verifier, redirectUri, clientId, method: 'private_key_jwt', assertion });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const claims = await verifyIdToken(token.body.id_token, endpoints.organizations.jwksUri);
    assert.equal(claims.iss, tenantIssuer(TENANT_B));
    assert.equal(typeof claims.auth_time, 'number');
  });

  test('an assertion signed with another key, or for another audience, is refused', async () => {
    const { code, verifier } = await codeFor(endpoints.organizations);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const stranger = clientAssertion({ clientId, audience: endpoints.organizations.tokenEndpoint, privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }), kid });
    const refused = await exchange(endpoints.organizations.tokenEndpoint, { code, verifier, redirectUri, clientId, method: 'private_key_jwt', assertion: stranger });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_client');
    const elsewhere = clientAssertion({ clientId, audience: 'http://127.0.0.1:1/token', privateKeyPem, kid });
    const wrongAudience = await exchange(endpoints.organizations.tokenEndpoint, { code, verifier, redirectUri, clientId, method: 'private_key_jwt', assertion: elsewhere });
    assert.equal(wrongAudience.status, 401);
  });
});

describe('re-authentication and auth_time', () => {
  test('prompt=login at organizations asks for the password again and moves auth_time on', async () => {
    const browser = new Browser();
    const first = await signIn(browser, { ...endpoints.organizations, login: 'pat' });
    // Signed in already: no form at all.
    const silent = await signIn(browser, { ...endpoints.organizations, login: 'pat' });
    assert.deepEqual(silent.seen, []);
    assert.equal(silent.claims.auth_time, first.claims.auth_time);
    await sleep(1100);
    const again = await signIn(browser, { ...endpoints.organizations, login: 'pat', prompt: 'login' });
    assert.ok(again.seen.includes('password'));
    assert.ok(again.claims.auth_time > first.claims.auth_time);
  });

  test('an app without the optional claim gets no auth_time, even with prompt=login and max_age=0, and another sub', async () => {
    const browser = new Browser();
    const withClaim = await signIn(browser, { ...endpoints.organizations, login: 'pat' });
    const without = await signIn(new Browser(), { ...endpoints.organizations, clientId: 'profile-link-no-auth-time', login: 'pat', prompt: 'login', max_age: '0' });
    assert.equal(without.token.status, 200);
    assert.equal(without.claims.auth_time, undefined);
    assert.equal(without.claims.oid, withClaim.claims.oid);
    assert.notEqual(without.claims.sub, withClaim.claims.sub, 'sub is pairwise per application');
  });

  test('prompt=select_account at the tenant shows an account chooser; continuing needs no password and keeps auth_time', async () => {
    const browser = new Browser();
    const tenant = { ...endpoints.organizations, authorizationEndpoint: `${base}/entra/${TENANT_A}/oauth2/v2.0/authorize`, tokenEndpoint: `${base}/entra/${TENANT_A}/oauth2/v2.0/token` };
    const first = await signIn(browser, { ...tenant, login: 'pat' });
    const chosen = await signIn(browser, { ...tenant, prompt: 'select_account', choose: 'continue' });
    assert.deepEqual(chosen.seen, ['chooser']);
    assert.equal(chosen.claims.oid, first.claims.oid);
    assert.equal(chosen.claims.auth_time, first.claims.auth_time);
  });
});
