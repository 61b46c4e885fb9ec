// The root dev provider (unchanged: every other test depends on it) and the
// provider list the server serves at /dev-providers.json.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../../testing/harness.mjs';
import { discover, signIn, startServer } from '../testing/relying-party.mjs';

let server;
before(async () => { server = await startServer({ DEV_IDP_REDIRECT_URIS: 'http://127.0.0.1:9999/extra/callback' }); });
after(() => server?.stop());

describe('the root dev provider', () => {
  test('its issuer is the server root; pat signs in with client_secret_basic; auth_time always present', async () => {
    const doc = await discover(server.base);
    assert.equal(doc.issuer, server.base);
    assert.equal(doc.authorization_endpoint, `${server.base}/auth`);
    for (const redirectUri of ['http://127.0.0.1:8125/login/callback', 'http://127.0.0.1:8125/login/callback/dev', 'http://127.0.0.1:9999/extra/callback']) {
      const { claims } = await signIn(new Browser(), {
        authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, jwksUri: doc.jwks_uri,
        redirectUri, secret: 'local-dev-secret', login: 'pat',
      });
      assert.equal(claims.iss, server.base);
      assert.equal(claims.sub, 'pat-7f3c9a');
      assert.equal(typeof claims.auth_time, 'number');
    }
  });

  test('other-client is still registered', async () => {
    const doc = await discover(server.base);
    const { token } = await signIn(new Browser(), {
      authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, jwksUri: doc.jwks_uri,
      redirectUri: 'http://localhost:8125/login/callback', clientId: 'other-client', secret: 'other-secret', login: 'sam',
    });
    assert.equal(token.status, 200);
  });
});

describe('/dev-providers.json', () => {
  test('lists dev, entra, entra-both and google in the provider-list format, each discoverable and consistent', async () => {
    const list = await (await fetch(`${server.base}/dev-providers.json`)).json();
    assert.deepEqual(list.map((p) => p.id), ['dev', 'entra', 'entra-both', 'google']);
    const byId = Object.fromEntries(list.map((p) => [p.id, p]));
    assert.equal(byId.dev.issuer, server.base);
    assert.equal(byId.dev.label, 'Dev provider');
    assert.equal(byId.entra.label, 'Microsoft');
    assert.deepEqual(byId.entra.issuer_policy, { kind: 'entra', accounts: 'work' });
    assert.equal(byId.entra.issuer, `${server.base}/entra/organizations/v2.0`);
    assert.equal(byId.google.label, 'Google');
    assert.equal(byId.google.reauthentication.request, 'max_age_0');
    for (const p of list) {
      assert.match(p.id, /^[a-z][a-z0-9-]{0,31}$/);
      assert.ok(p.label.length >= 1 && p.label.length <= 40);
      assert.ok(p.scopes.split(' ').includes('openid'));
      assert.equal(typeof p.client_secret, 'string');
      const doc = await discover(p.issuer);
      const expected = p.issuer_policy.kind === 'entra' && !/\/consumers\//.test(p.issuer) ? `${server.base}/entra/{tenantid}/v2.0` : p.issuer;
      assert.equal(doc.issuer, expected, p.id);
      assert.ok(doc.token_endpoint_auth_methods_supported.includes(p.client_auth), `${p.id}: ${p.client_auth}`);
      // The callback registered for the id signs in.
      const { token } = await signIn(new Browser(), {
        authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, jwksUri: doc.jwks_uri,
        redirectUri: `http://127.0.0.1:8126/login/callback/${p.id}`, clientId: p.client_id, secret: p.client_secret,
        method: p.client_auth, login: 'pat',
      });
      assert.equal(token?.status, 200, p.id);
    }
  });
});
