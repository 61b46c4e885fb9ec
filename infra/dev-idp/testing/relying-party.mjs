// A small relying party for the dev providers' tests: it starts the real
// server on a free port and signs in over HTTP as a browser and profile-link
// would (PKCE, the login form, the token endpoint, a verified ID token).
// Node's built-in modules only; the browser (a cookie jar and hand-followed
// redirects), free ports, the child process and HTML forms are infra/testing's,
// shared with the demo portal's tests.

import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { forms, freePort, startNodeServer } from '../../testing/harness.mjs';

const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));

// The dev providers' server (server.mjs) as a child process on a free port.
export async function startServer(env = {}) {
  const port = await freePort();
  return startNodeServer(SERVER, { name: 'the dev provider', port, env: { IDP_HOST: '127.0.0.1', IDP_PORT: String(port), ...env } });
}

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function authorizationRequest(endpoint, { clientId = 'profile-link-local', redirectUri, ...extra }) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  const url = new URL(endpoint);
  const params = {
    client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid email profile',
    state, nonce, code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256', ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return { url: url.href, verifier, state, nonce, clientId, redirectUri };
}

// Follows redirects from `start` until the redirect URI is reached, filling
// the forms met on the way: the username page (login only), the login form
// (login and password), an account chooser (`choose: 'continue'`), the
// provider's own auto-submitted confirmation. Returns { callback } or, when a
// page asks for something else, { page }. `seen` lists the pages filled.
export async function follow(browser, start, { redirectUri, login, password = 'demo', choose } = {}) {
  const seen = [];
  let response = await browser.request(start);
  for (let step = 0; step < 20; step += 1) {
    if (response.status >= 300 && response.status < 400 && response.location) {
      const next = new URL(response.location, response.url);
      if (next.href.startsWith(redirectUri)) return { callback: next, seen };
      response = await browser.request(next.href);
      continue;
    }
    if (response.status !== 200 && response.status !== 401) return { page: response, seen };
    const all = forms(response.text);
    const chooser = all.find((f) => f.fields.account === 'current');
    const loginForm = all.find((f) => Object.hasOwn(f.fields, 'login'));
    const confirm = all.find((f) => Object.hasOwn(f.fields, 'xsrf'));
    let form;
    let fields;
    if (choose === 'continue' && chooser) {
      seen.push('chooser');
      [form, fields] = [chooser, { ...chooser.fields }];
      choose = undefined;
    } else if (loginForm && login && !(response.status === 401)) {
      const withPassword = Object.hasOwn(loginForm.fields, 'password');
      seen.push(withPassword ? 'password' : 'username');
      fields = { ...loginForm.fields, login, ...(withPassword ? { password } : {}) };
      form = loginForm;
    } else if (confirm) {
      seen.push('confirm');
      [form, fields] = [confirm, { ...confirm.fields, logout: 'yes' }];
    } else {
      return { page: response, seen };
    }
    response = await browser.request(new URL(form.action, response.url).href, { method: 'POST', form: fields });
  }
  throw new Error('too many steps');
}

// An RFC 7523 client assertion, ES256, signed with a PKCS#8 PEM key.
export function clientAssertion({ clientId, audience, privateKeyPem, kid }) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
  const payload = b64url(JSON.stringify({ iss: clientId, sub: clientId, aud: audience, jti: b64url(randomBytes(16)), iat: now, exp: now + 60 }));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: createPrivateKey(privateKeyPem), dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(signature)}`;
}

export async function exchange(tokenEndpoint, { code, verifier, redirectUri, clientId = 'profile-link-local', secret, method = 'client_secret_basic', assertion }) {
  const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier };
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (method === 'private_key_jwt') {
    Object.assign(form, { client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
  } else if (method === 'client_secret_basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else {
    Object.assign(form, { client_id: clientId, client_secret: secret });
  }
  const response = await fetch(tokenEndpoint, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  return { status: response.status, body: await response.json() };
}

export async function discover(issuerOrUrl) {
  const url = issuerOrUrl.endsWith('/openid-configuration') ? issuerOrUrl : `${issuerOrUrl}/.well-known/openid-configuration`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`discovery ${url}: ${response.status}`);
  return response.json();
}

// Verifies the signature against the provider's JWKS and returns the claims.
export async function verifyIdToken(idToken, jwksUri) {
  const [h, p, s] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const { keys } = await (await fetch(jwksUri)).json();
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} at ${jwksUri}`);
  if (header.alg !== 'RS256') throw new Error(`unexpected alg ${header.alg}`);
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('bad signature');
  return JSON.parse(Buffer.from(p, 'base64url'));
}

// One whole sign-in: authorize → forms → token → verified claims.
export async function signIn(browser, { authorizationEndpoint, tokenEndpoint, jwksUri, redirectUri, secret, method, login, choose, clientId, ...extra }) {
  const request = authorizationRequest(authorizationEndpoint, { clientId, redirectUri, ...extra });
  const result = await follow(browser, request.url, { redirectUri, login, choose });
  if (!result.callback) return { ...result, request };
  const { callback } = result;
  if (callback.searchParams.get('state') !== request.state) throw new Error('state mismatch');
  const code = callback.searchParams.get('code');
  if (!code) return { ...result, request, error: callback.searchParams.get('error') };
  const token = await exchange(tokenEndpoint, { code, verifier: request.verifier, redirectUri, clientId, secret, method });
  if (token.status !== 200) return { ...result, request, token };
  const claims = await verifyIdToken(token.body.id_token, jwksUri);
  if (claims.nonce !== request.nonce) throw new Error('nonce mismatch');
  if (claims.aud !== (clientId || 'profile-link-local')) throw new Error(`aud ${claims.aud}`);
  return { ...result, request, token, claims };
}
