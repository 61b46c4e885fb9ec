// The local, development-only OpenID Connect providers for profile-link:
// oidc-provider (OpenID Certified) with real login pages, demo users and fixed
// keys, so sign-in in `scripts/dev` and the tests speaks the real protocol.
// Never deploy this: its keys and passwords are public.
//
// One process and port (IDP_PORT, default 9400) serves several providers, each
// a real oidc-provider instance under its own path (issue [11]):
//
// - `/` — the dev provider, as it always was: issuer http://127.0.0.1:<port>,
//   clients profile-link-local / local-dev-secret (DEV_IDP_CLIENT_ID and
//   DEV_IDP_CLIENT_SECRET) and other-client / other-secret; users pat and sam.
//   Follows OIDC Core: prompt=login and max_age both honoured, auth_time always
//   sent (require_auth_time); clients registered for client_secret_basic.
// - `/entra/…` — imitates the Microsoft identity platform v2.0 (entra.mjs):
//   tenants Contoso and Fabrikam and the personal-account tenant 9188040d-…;
//   `organizations`/`common` discovery publishes the issuer template
//   …/entra/{tenantid}/v2.0, each ID token carries its user's own tenant issuer,
//   tid and oid, and a pairwise sub; auth_time only for an app with the optional
//   claim. Differs from Entra: one host and plain http; no MFA, consent, guests,
//   or access tokens for Graph; userinfo only per tenant (Entra's is Graph);
//   private_key_jwt only for the client profile-link-local-jwt (Entra takes a
//   certificate or a secret for the same app; oidc-provider one method a client);
//   login_hint and domain_hint are honoured, domain_hint by the dev tenants'
//   domains only; the facade remembers the last account in a cookie of its own.
// - `/google` — imitates Google's OpenID Connect (google.mjs): prompt other than
//   none/consent/select_account ends on an error page; auth_time only when
//   max_age was sent; email_verified always, hd for a Workspace user. Differs
//   from Google: one host and plain http, no consent screen, no refresh tokens,
//   and `select_account` is a one-account chooser.
// Neither imitation sends RFC 9207's `iss` in the authorization response.
//
// GET /dev-providers.json lists them in profile-link's provider-list format,
// with this server's own issuers, client ids and secrets.
//
// DEV_IDP_REDIRECT_URIS (comma-separated) adds redirect URIs to every client;
// each also has http://127.0.0.1/login/callback/<id> and the localhost one
// (loopback: any port), the root clients also …/login/callback.
//
// DEV_IDP_LOAD_USERS=N (scripts/load and the load smoke in scripts/test only)
// adds N load-test users: logins `load-1` … `load-N`, password `demo`, each with
// a stable sub (`load-<n>-<6 hex>`), a name and an email claim. Unset, only pat
// and sam exist.

import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { createEntra } from './entra.mjs';
import { createGoogle } from './google.mjs';
import { abortInteraction, grantConsent, loadFirstPartyGrant, serveInteraction } from './lib/first-party.mjs';
import { escape, loginForms, page, readForm, send, sendJson } from './lib/html.mjs';

const host = process.env.IDP_HOST || '127.0.0.1';
const port = Number(process.env.IDP_PORT || 9400);
const issuer = `http://${host}:${port}`;

// Demo users. Their email claims deliberately differ from the addresses the
// customer system registered (pat@example.com): identity is (iss, sub), never email.
const USERS = {
  pat: { sub: 'pat-7f3c9a', name: 'Pat Doe', email: 'pat.doe@mail.example.net' },
  sam: { sub: 'sam-2b81d4', name: 'Sam Roe', email: 'sam.roe@mail.example.net' },
};
const PASSWORD = 'demo';

const LOAD_USERS = Number(process.env.DEV_IDP_LOAD_USERS || 0);
if (!Number.isInteger(LOAD_USERS) || LOAD_USERS < 0 || LOAD_USERS > 100000) {
  console.error(`DEV_IDP_LOAD_USERS must be a whole number from 0 to 100000, not ${process.env.DEV_IDP_LOAD_USERS}`);
  process.exit(1);
}
for (let n = 1; n <= LOAD_USERS; n += 1) {
  // Like pat's, the email claim differs from the address the customer system registered.
  const suffix = createHash('sha256').update(`load-${n}`).digest('hex').slice(0, 6);
  USERS[`load-${n}`] = { sub: `load-${n}-${suffix}`, name: `Load Person ${n}`, email: `load-${n}@people.example.net` };
}
const BY_SUB = Object.fromEntries(Object.entries(USERS).map(([login, u]) => [u.sub, { login, ...u }]));

// Native clients: RFC 8252 lets loopback redirect URIs use any port, so tests
// can run the app on free ports. Extra URIs come from DEV_IDP_REDIRECT_URIS.
// (`/login/callback` is the single-provider callback; `/login/callback/<id>`
// the per-provider one of issue [11].)
const extraRedirectUris = (process.env.DEV_IDP_REDIRECT_URIS || '').split(',').map((s) => s.trim()).filter(Boolean);
const callbacksFor = (...ids) => ids.flatMap((id) => [`http://127.0.0.1/login/callback/${id}`, `http://localhost/login/callback/${id}`]);
const redirectUris = [
  'http://127.0.0.1/login/callback',
  'http://localhost/login/callback',
  ...callbacksFor('dev'),
  ...extraRedirectUris,
];
const client = (clientId, secret, {
  name = clientId === 'other-client' ? 'Another application' : 'profile-link (local)', redirects = redirectUris, requireAuthTime = true,
  auth = 'client_secret_basic', jwks,
} = {}) => ({
  client_id: clientId,
  ...(secret ? { client_secret: secret } : {}),
  ...(jwks ? { jwks } : {}),
  client_name: name,
  application_type: 'native',
  redirect_uris: redirects,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: auth,
  id_token_signed_response_alg: 'RS256',
  require_auth_time: requireAuthTime,
});

const { keys } = JSON.parse(readFileSync(new URL('./dev-jwks.json', import.meta.url)));

const provider = new Provider(issuer, {
  clients: [
    client(process.env.DEV_IDP_CLIENT_ID || 'profile-link-local', process.env.DEV_IDP_CLIENT_SECRET || 'local-dev-secret'),
    client('other-client', 'other-secret'),
  ],
  jwks: { keys },
  cookies: { keys: ['dev-only-cookie-key-not-secret'] },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = BY_SUB[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, name: user.name, preferred_username: user.login, email: user.email, email_verified: true };
      },
    };
  },
  // No consent screen: the demo client is first-party.
  loadExistingGrant: loadFirstPartyGrant,
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><p>${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
});

function loginPage(uid, clientName, login, error) {
  return page('Sign in — dev identity provider', `
<h1>Dev identity provider — sign in</h1>
<p>Sign in to continue to <strong>${escape(clientName)}</strong>.</p>
${error ? `<p class="error" id="error" role="alert">${escape(error)}</p>` : ''}
${loginForms(`/interaction/${uid}`, login, error)}
<p class="hint">Demo users: <code>pat</code> and <code>sam</code>, password <code>demo</code>. Local development only.</p>`);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Sign-in error', '<p>This sign-in page is out of date. Start again.</p>'));
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName || details.params.client_id;

  if (req.method === 'GET') {
    if (details.prompt.name === 'consent') return grantConsent(provider, req, res, details);
    return send(res, 200, loginPage(uid, clientName, details.params.login_hint || '', null));
  }
  if (action === 'abort') return abortInteraction(provider, req, res);
  const form = await readForm(req);
  const login = (form.get('login') || '').trim();
  const user = USERS[login];
  if (!user || form.get('password') !== PASSWORD) {
    return send(res, 401, loginPage(uid, clientName, login, 'Unknown username or wrong password.'));
  }
  return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

// The imitations of real providers, under their own paths (entra.mjs,
// google.mjs). Each registers profile-link with its own secret, and callback
// paths for the provider ids that use it.
const imitationClient = ({ clientId = 'profile-link-local', secret, ids, name, requireAuthTime = false, auth, jwks }) => client(
  clientId, secret, { name, redirects: [...callbacksFor(...ids), ...extraRedirectUris], requireAuthTime, auth, jwks },
);
// A client that authenticates with private_key_jwt (RFC 7523) instead of a
// secret: its P-256 key is public too (dev-client-key.pem, PKCS#8), registered
// under its RFC 7638 thumbprint as kid.
const clientJwk = createPublicKey(readFileSync(new URL('./dev-client-key.pem', import.meta.url))).export({ format: 'jwk' });
const clientKid = createHash('sha256').update(JSON.stringify({ crv: clientJwk.crv, kty: clientJwk.kty, x: clientJwk.x, y: clientJwk.y })).digest('base64url');
export const ENTRA_SECRET = 'local-entra-secret';
export const GOOGLE_SECRET = 'local-google-secret';
// Entra sends auth_time only to apps whose registration asks for the optional
// claim: profile-link-local does (as docs/operating.md's recipes tell operators to set up),
// profile-link-no-auth-time is the same app without it.
const ENTRA_AUTH_TIME_CLIENTS = new Set(['profile-link-local', 'profile-link-local-jwt']);
const handleEntra = createEntra({
  base: issuer,
  jwks: { keys },
  clients: [
    imitationClient({ secret: ENTRA_SECRET, ids: ['entra', 'entra-both'], requireAuthTime: true }),
    imitationClient({ clientId: 'profile-link-no-auth-time', secret: ENTRA_SECRET, ids: ['entra', 'entra-both'], name: 'profile-link (no auth_time optional claim)' }),
    imitationClient({
      // entra-jwt: the provider scripts/test adds through DEV_PROVIDERS_FILE, as a person adds their own.
      clientId: 'profile-link-local-jwt', ids: ['entra', 'entra-both', 'entra-jwt'], name: 'profile-link (private_key_jwt)', requireAuthTime: true,
      auth: 'private_key_jwt', jwks: { keys: [{ ...clientJwk, kid: clientKid, alg: 'ES256', use: 'sig' }] },
    }),
  ],
  optionalAuthTime: (clientId) => ENTRA_AUTH_TIME_CLIENTS.has(clientId),
});
const handleGoogle = createGoogle({ base: issuer, jwks: { keys }, clients: [imitationClient({ secret: GOOGLE_SECRET, ids: ['google'] })] });

// The dev providers in the format profile-link reads (issue [11];
// docs: docs/development.md, "The dev identity providers"), served at /dev-providers.json.
function devProviders() {
  const secret = (value) => ({ client_secret: value });
  return [
    {
      id: 'dev', label: 'Dev provider', issuer, issuer_policy: { kind: 'exact' },
      client_id: process.env.DEV_IDP_CLIENT_ID || 'profile-link-local', ...secret(process.env.DEV_IDP_CLIENT_SECRET || 'local-dev-secret'),
      client_auth: 'client_secret_basic', scopes: 'openid email profile',
      reauthentication: { request: 'prompt_login_and_max_age_0', proof: 'auth_time' }, response_mode: 'query',
    },
    {
      id: 'entra', label: 'Microsoft', issuer: `${issuer}/entra/organizations/v2.0`, issuer_policy: { kind: 'entra', accounts: 'work' },
      client_id: 'profile-link-local', ...secret(ENTRA_SECRET), client_auth: 'client_secret_post', scopes: 'openid email profile',
      reauthentication: { request: 'prompt_login', proof: 'auth_time' }, response_mode: 'query',
    },
    {
      id: 'entra-both', label: 'Microsoft (work or personal)', issuer: `${issuer}/entra/common/v2.0`, issuer_policy: { kind: 'entra', accounts: 'both' },
      client_id: 'profile-link-local', ...secret(ENTRA_SECRET), client_auth: 'client_secret_post', scopes: 'openid email profile',
      reauthentication: { request: 'prompt_login', proof: 'auth_time' }, response_mode: 'query',
    },
    {
      id: 'google', label: 'Google', issuer: `${issuer}/google`, issuer_policy: { kind: 'google' },
      client_id: 'profile-link-local', ...secret(GOOGLE_SECRET), client_auth: 'client_secret_basic', scopes: 'openid email profile',
      reauthentication: { request: 'max_age_0', proof: 'auth_time' }, response_mode: 'query',
    },
  ];
}

const handleProvider = provider.callback();
const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok');
  }
  if (url.pathname === '/dev-providers.json' && req.method === 'GET') return sendJson(res, 200, devProviders());
  try {
    if (url.pathname.startsWith('/entra/')) return await handleEntra(req, res, url);
    if (url.pathname === '/google' || url.pathname.startsWith('/google/')) return await handleGoogle(req, res, url);
  } catch (error) {
    console.error('request failed:', error);
    if (!res.headersSent) return send(res, 500, page('Error', `<p>${escape(error.message)}</p>`));
    return res.end();
  }
  if (await serveInteraction(req, res, url.pathname, '/interaction', ['login', 'abort'], interaction)) return undefined;
  return handleProvider(req, res);
});

server.on('error', (error) => {
  if (error.code === 'EADDRINUSE') {
    console.error(`port ${port} is already in use: stop whatever listens there or set IDP_PORT`);
  } else {
    console.error(`dev identity provider failed: ${error.message}`);
  }
  process.exit(1);
});
// Keep idle connections open as long as production providers do (about a
// minute): Node's 5 s default closes a connection the relying party's pool may
// be reusing at that moment, which fails a token exchange now and then
// (seen in the browser suite) in a way no real provider would.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, host, () => console.log(`dev identity provider listening on ${issuer}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
