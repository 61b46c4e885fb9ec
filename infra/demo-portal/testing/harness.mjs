// What the portal's end-to-end test needs: a real OP (oidc-provider, OpenID
// Certified) speaking profile-link's contract, the real portal as a child
// process, and a browser reduced to a cookie jar and hand-followed redirects.
// Everything on free loopback ports; each start returns a stop.

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

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
// `portalOrigin` registered as demo-portal (client_secret_basic, PKCE, ES256).
export async function startOp({ port, portalOrigin }) {
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = defaultAccounts();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const op = { issuer, accounts, nextAccount: 'sub-pat', accessTokenTtl: 3600, idpHints: [] };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'demo-portal',
      client_secret: 'demo-portal-secret',
      redirect_uris: [`${portalOrigin}/callback`],
      post_logout_redirect_uris: [`${portalOrigin}/`],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'ES256' }] },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
    routes: { authorization: '/authorize', token: '/token', userinfo: '/userinfo', end_session: '/end-session', jwks: '/.well-known/jwks.json' },
    cookies: { keys: ['test-only-cookie-key'] },
    pkce: { required: () => true },
    // profile-link's custom claims in the ID token as well as at userinfo.
    conformIdTokenClaims: false,
    claims: { openid: ['sub', 'idp', 'idp_name', 'profiles'], profile: ['name'], email: ['email', 'email_verified'] },
    extraParams: ['idp_hint'],
    features: {
      devInteractions: { enabled: false },
      // The confirmation page with its button inside the form, for forms() below.
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

  // No login page: the interaction signs in `op.nextAccount` at once and
  // grants what the first-party portal asks for.
  const handleOidc = provider.callback();
  const server = createHttpServer(async (req, res) => {
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

// The real portal (server.mjs) as a child process on a free port.
export async function startPortal({ port, issuer, env = {} }) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, DEMO_PORTAL_PORT: String(port), DEMO_PORTAL_ISSUER: issuer, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    return child.kill('SIGTERM');
  });
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`the portal exited with ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    if (i === 100) {
      await stop();
      throw new Error(`the portal did not answer /healthz within 10 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, output: () => output, stop };
}

// Cookies by host (browsers do not tell ports apart) and path; redirects by hand.
export class Browser {
  constructor() { this.cookies = []; }

  cookieFor(url, name) {
    return this.cookies.find((c) => c.host === url.hostname && c.name === name)?.value;
  }

  async request(url, { method = 'GET', form } = {}) {
    const target = new URL(url);
    const cookie = this.cookies.filter((c) => c.host === target.hostname && target.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`).join('; ');
    const response = await fetch(target, {
      method,
      redirect: 'manual',
      headers: { ...(cookie && { cookie }), ...(form && { 'content-type': 'application/x-www-form-urlencoded' }) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const path = attributes.find((a) => /^path=/i.test(a))?.slice(5) || '/';
      const gone = attributes.some((a) => /^max-age=(0|-)/i.test(a) || (/^expires=/i.test(a) && new Date(a.slice(8)) < new Date()));
      this.cookies = this.cookies.filter((c) => !(c.host === target.hostname && c.name === name && c.path === path));
      if (!gone) this.cookies.push({ host: target.hostname, name, value, path });
    }
    return { status: response.status, location: response.headers.get('location'), headers: response.headers, text: await response.text(), url: target.href };
  }

  // Follows redirects from `url` to the first page that is not one; `visited` lists every URL asked for.
  async follow(url, options) {
    const visited = [url];
    let response = await this.request(url, options);
    for (let hops = 0; response.status >= 300 && response.status < 400 && response.location; hops += 1) {
      if (hops === 20) throw new Error(`more than 20 redirects: ${visited.join(' → ')}`);
      const next = new URL(response.location, response.url).href;
      visited.push(next);
      response = await this.request(next);
    }
    return { ...response, visited };
  }
}

const unescapeHtml = (s) => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]);

// The forms on a page: [{ action, fields }], fields the inputs' and buttons' name → value.
export function forms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, attributes, inner]) => ({
    action: unescapeHtml(attributes.match(/action="([^"]*)"/)?.[1] || ''),
    fields: Object.fromEntries([...inner.matchAll(/<(?:input|button)\b([^>]*)>/g)]
      .map(([, a]) => [a.match(/name="([^"]*)"/)?.[1], unescapeHtml(a.match(/value="([^"]*)"/)?.[1] || '')])
      .filter(([name]) => name)),
  }));
}

// The element with `id`'s opening tag and text up to its closing tag (no nesting of the same tag).
export function element(html, id) {
  const match = html.match(new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`));
  return match ? match[2] : undefined;
}

export const profileItems = (html) => [...(element(html, 'profiles') || '').matchAll(/<li data-profile-id="([^"]*)">([\s\S]*?)<\/li>/g)]
  .map(([, id, inner]) => ({ id: unescapeHtml(id), text: unescapeHtml(inner.replace(/<[^>]+>/g, '')) }));
