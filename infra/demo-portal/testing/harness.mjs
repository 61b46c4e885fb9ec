// What the portal's end-to-end test needs: a real OP (oidc-provider, OpenID
// Certified) speaking profile-link's contract, the real portal as a child
// process, and its profile list read from the page. Everything on free
// loopback ports; each start returns a stop. The browser (a cookie jar and
// hand-followed redirects), free ports and HTML forms are infra/testing's,
// shared with the dev providers' tests.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';
import { element, startNodeServer, unescapeHtml } from '../../testing/harness.mjs';

const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));

// The accounts the OP signs in, by sub; claims as profile-link sends them.
// Tests may change them (a profile linked since sign-in) and choose who signs
// in next (`op.nextAccount`).
export function defaultAccounts() {
  return {
    'sub-pat': {
      name: 'Pat Doe', email: 'pat.doe@mail.example.net', idp: 'entra', idp_name: 'Microsoft',
      profiles: [{ id: 'prof-1', name: 'Pat Doe', organization: 'Bakery' }, { id: 'prof-2', name: 'Pat Doe', organization: 'Florist' }],
    },
    'sub-sam': { name: 'Sam Roe', email: 'sam.roe@mail.example.net', idp: 'google', idp_name: 'Google', profiles: [] },
  };
}

// An OP on `port` with profile-link's endpoints and claims, and the portal at
// `portalOrigin` registered as demo-portal (client_secret_basic, PKCE, and
// RS256 ID tokens, as profile-link registers it by default; `idTokenAlg` to change it).
export async function startOp({ port, portalOrigin, idTokenAlg = 'RS256' }) {
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = defaultAccounts();
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  // `keys`: the private keys, for tests that sign as the OP would (logout tokens);
  // `idTokens`: every ID token issued, newest last.
  const op = { issuer, accounts, nextAccount: 'sub-pat', accessTokenTtl: 3600, idpHints: [], keys: { rsa, ec }, idTokens: [] };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'demo-portal',
      client_secret: 'demo-portal-secret',
      redirect_uris: [`${portalOrigin}/callback`],
      post_logout_redirect_uris: [`${portalOrigin}/`],
      // As profile-link registers it: ID tokens carry sid, logout tokens are posted here.
      backchannel_logout_uri: `${portalOrigin}/backchannel-logout`,
      backchannel_logout_session_required: true,
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: idTokenAlg,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    // profile-link's JWKS: an RSA key and an EC key, each with its alg.
    jwks: {
      keys: [
        { ...rsa.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' },
        { ...ec.export({ format: 'jwk' }), use: 'sig', alg: 'ES256' },
      ],
    },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
    routes: { authorization: '/authorize', token: '/token', userinfo: '/userinfo', end_session: '/end-session', jwks: '/.well-known/jwks.json' },
    cookies: { keys: ['test-only-cookie-key'] },
    pkce: { required: () => true },
    // profile-link's custom claims in the ID token as well as at userinfo.
    conformIdTokenClaims: false,
    claims: { openid: ['sub', 'idp', 'idp_name', 'profiles'], profile: ['name'], email: ['email', 'email_verified'] },
    extraParams: ['idp_hint'],
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      // The confirmation page with its button inside the form, for forms().
      rpInitiatedLogout: {
        logoutSource: (ctx, form) => {
          ctx.body = `<!doctype html><title>Sign out?</title>${form.replace('</form>', '<button type="submit" name="logout" value="yes">Sign out</button></form>')}`;
        },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // No tolerance, so a test can outlive a one-second access token.
    clockTolerance: 0,
    ttl: { AccessToken: () => op.accessTokenTtl, IdToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
    async findAccount(ctx, sub) {
      const account = accounts[sub];
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...account, email_verified: false }) };
    },
  });

  provider.on('grant.success', (ctx) => {
    if (ctx.body?.id_token) op.idTokens.push(ctx.body.id_token);
  });

  // No login page: the interaction signs in `op.nextAccount` at once and
  // grants what the first-party portal asks for.
  const handleOidc = provider.callback();
  const server = createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        op.idpHints.push(details.params.idp_hint);
        if (details.prompt.name === 'login') {
          return await provider.interactionFinished(req, res, { login: { accountId: op.nextAccount } }, { mergeWithLastSubmission: false });
        }
        const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        grant.addOIDCScope(details.params.scope);
        return await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
      }
      return handleOidc(req, res);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end(`test OP: ${error.message}`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  op.stop = () => new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
  return op;
}

// The real portal (server.mjs) as a child process on `port`.
export function startPortal({ port, issuer, env = {} }) {
  return startNodeServer(SERVER, { name: 'the portal', port, env: { DEMO_PORTAL_PORT: String(port), DEMO_PORTAL_ISSUER: issuer, ...env } });
}

// The profiles the page lists: [{ id, text }].
export const profileItems = (html) => [...(element(html, 'profiles') || '').matchAll(/<li data-profile-id="([^"]*)">([\s\S]*?)<\/li>/g)]
  .map(([, id, inner]) => ({ id: unescapeHtml(id), text: unescapeHtml(inner.replace(/<[^>]+>/g, '')) }));
