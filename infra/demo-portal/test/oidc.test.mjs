// The helpers around openid-client and the configuration, without a server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { ConfigError, parseConfig } from '../lib/config.mjs';
import {
  describeCallbackError, isTokenRejected, isUnreachable, lazyDiscovery, loginParameters,
} from '../lib/oidc.mjs';

// What calling fn did, as text: "returned …" or "<ErrorClass>: message".
function outcome(fn) {
  try {
    return `returned ${JSON.stringify(fn())}`;
  } catch (error) {
    return `${error.constructor.name}: ${error.message}`;
  }
}

describe('lazyDiscovery', () => {
  test('discovers on first need, tries again after a failure, then keeps the result', async () => {
    let calls = 0;
    const op = lazyDiscovery(async () => {
      calls += 1;
      if (calls === 1) throw new TypeError('fetch failed');
      return { discovered: calls };
    });
    assert.equal(calls, 0, `nothing before first need, saw ${calls} calls`);
    await assert.rejects(op(), /fetch failed/, 'the first attempt fails');
    const first = await op();
    const second = await op();
    assert.deepEqual([first, second, calls], [{ discovered: 2 }, { discovered: 2 }, 2], `saw ${JSON.stringify([first, second, calls])}`);
  });

  test('concurrent callers share one attempt', async () => {
    let calls = 0;
    const op = lazyDiscovery(async () => {
      calls += 1;
      await new Promise((r) => setTimeout(r, 10));
      return 'config';
    });
    const results = await Promise.all([op(), op(), op()]);
    assert.deepEqual([results, calls], [['config', 'config', 'config'], 1], `saw ${JSON.stringify([results, calls])}`);
  });
});

describe('loginParameters', () => {
  const issuers = ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'];
  const parse = (query) => loginParameters(new URLSearchParams(query), issuers);

  test('passes idp_hint and prompt=none|login through, nothing else', () => {
    const cases = [['', {}], ['idp_hint=entra', { idp_hint: 'entra' }], ['prompt=none', { prompt: 'none' }],
      ['prompt=login&idp_hint=google&scope=admin', { prompt: 'login', idp_hint: 'google' }]];
    for (const [query, expected] of cases) {
      const out = parse(query);
      assert.deepEqual(out, expected, `?${query}: saw ${JSON.stringify(out)}`);
    }
  });

  test('third-party-initiated login: iss must be the issuer', () => {
    const out = parse('iss=http%3A%2F%2F127.0.0.1%3A3000');
    assert.deepEqual(out, {}, `the issuer's own iss, saw ${JSON.stringify(out)}`);
    for (const iss of ['https://attacker.example', 'http://127.0.0.1:3000/', '']) {
      const seen = outcome(() => parse(new URLSearchParams({ iss })));
      assert.match(seen, /^BadRequest: .*not the profile-link this portal uses/, `iss=${iss} is refused, saw ${seen}`);
    }
  });

  test('a malformed idp_hint or another prompt is refused', () => {
    for (const query of ['idp_hint=Entra', 'idp_hint=', 'idp_hint=a%20b', 'prompt=consent', 'prompt=']) {
      const seen = outcome(() => parse(query));
      assert.match(seen, /^BadRequest: /, `?${query} is refused, saw ${seen}`);
    }
  });
});

describe('errors', () => {
  test('describeCallbackError: an OAuth error from the OP keeps its code and words it plainly', () => {
    const error = new client.AuthorizationResponseError('x', {
      cause: new URLSearchParams({ error: 'login_required', error_description: 'End-User authentication is required' }),
    });
    const out = describeCallbackError(error);
    assert.deepEqual(out, {
      title: 'Sign-in did not complete',
      message: 'You are not signed in at profile-link, so it could not sign you in here without asking.',
      code: 'login_required',
      detail: 'End-User authentication is required',
    }, `saw ${JSON.stringify(out)}`);
    const unknown = describeCallbackError(new client.AuthorizationResponseError('x', { cause: new URLSearchParams({ error: 'weird' }) }));
    assert.equal(unknown.code, 'weird', `an unknown error code still shown, saw ${JSON.stringify(unknown)}`);
  });

  test('describeCallbackError: a state mismatch says the answer is not for this browser', () => {
    const error = new client.ClientError('invalid response encountered', {
      code: 'OAUTH_INVALID_RESPONSE', cause: new Error('unexpected "state" response parameter value'),
    });
    const out = describeCallbackError(error);
    assert.match(out.message, /does not belong to the sign-in this browser started/, `saw ${JSON.stringify(out)}`);
    assert.equal(out.code, 'OAUTH_INVALID_RESPONSE', `saw ${JSON.stringify(out)}`);
  });

  test('isUnreachable: a refused connection or a timeout, not an answer', () => {
    const results = [
      new TypeError('fetch failed'),
      new client.ClientError('operation timed out', { code: 'OAUTH_TIMEOUT' }),
      new client.ClientError('unexpected HTTP response status code', { code: 'OAUTH_RESPONSE_IS_NOT_CONFORM' }),
      new TypeError('"server" must be an instance of URL'),
    ].map(isUnreachable);
    assert.deepEqual(results, [true, true, false, false], `saw ${JSON.stringify(results)}`);
  });

  test('isTokenRejected: a 401 from userinfo, with or without a WWW-Authenticate challenge', () => {
    const challenge = (status) => new client.WWWAuthenticateChallengeError('x', { cause: [], response: new Response(null, { status }) });
    const results = [
      challenge(401),
      challenge(403),
      new client.ClientError('unexpected HTTP response status code', { code: 'OAUTH_RESPONSE_IS_NOT_CONFORM', cause: new Response(null, { status: 401 }) }),
      new client.ClientError('unexpected HTTP response status code', { code: 'OAUTH_RESPONSE_IS_NOT_CONFORM', cause: new Response(null, { status: 500 }) }),
      new TypeError('fetch failed'),
    ].map(isTokenRejected);
    assert.deepEqual(results, [true, false, true, false, false], `saw ${JSON.stringify(results)}`);
  });
});

describe('parseConfig', () => {
  test('defaults, and the URLs the OP must have registered', () => {
    const config = parseConfig({ DEMO_PORTAL_ISSUER: 'http://127.0.0.1:3000' });
    const shown = { ...config, issuerUrl: config.issuerUrl.href };
    assert.deepEqual(shown, {
      port: 3100, issuer: 'http://127.0.0.1:3000', issuerUrl: 'http://127.0.0.1:3000/', allowInsecureRequests: true,
      clientId: 'demo-portal', clientSecret: 'demo-portal-secret', portalName: 'Demo portal', origin: 'http://127.0.0.1:3100',
      redirectUri: 'http://127.0.0.1:3100/callback', postLogoutRedirectUri: 'http://127.0.0.1:3100/',
    }, `saw ${JSON.stringify(shown)}`);
  });

  test('https issuers anywhere, without insecure requests', () => {
    const config = parseConfig({ DEMO_PORTAL_ISSUER: 'https://id.example.com', DEMO_PORTAL_PORT: '4000', DEMO_PORTAL_NAME: 'Bakery' });
    const shown = [config.allowInsecureRequests, config.port, config.portalName, config.redirectUri];
    assert.deepEqual(shown, [false, 4000, 'Bakery', 'http://127.0.0.1:4000/callback'], `saw ${JSON.stringify(shown)}`);
  });

  test('a missing or unusable variable stops start-up with a message naming it', () => {
    const cases = [
      [{}, /DEMO_PORTAL_ISSUER is required/],
      [{ DEMO_PORTAL_ISSUER: 'not a url' }, /DEMO_PORTAL_ISSUER is not a URL/],
      [{ DEMO_PORTAL_ISSUER: 'http://id.example.com' }, /DEMO_PORTAL_ISSUER must be https \(plain http only on 127\.0\.0\.1 or localhost\)/],
      [{ DEMO_PORTAL_ISSUER: 'https://id.example.com/?x=1' }, /DEMO_PORTAL_ISSUER must be a plain https URL/],
      [{ DEMO_PORTAL_ISSUER: 'http://127.0.0.1:3000', DEMO_PORTAL_PORT: '70000' }, /DEMO_PORTAL_PORT must be a port number/],
      [{ DEMO_PORTAL_ISSUER: 'http://127.0.0.1:3000', DEMO_PORTAL_PORT: '31a' }, /DEMO_PORTAL_PORT must be a port number/],
      [{ DEMO_PORTAL_ISSUER: 'http://127.0.0.1:3000', DEMO_PORTAL_CLIENT_SECRET: '' }, /DEMO_PORTAL_CLIENT_SECRET must not be empty/],
    ];
    for (const [env, message] of cases) {
      const seen = outcome(() => parseConfig(env));
      assert.ok(seen.startsWith(`${ConfigError.name}: `) && message.test(seen), `${JSON.stringify(env)} fails with ${message}, saw ${seen}`);
    }
  });
});
