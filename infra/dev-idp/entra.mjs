// The Entra-like dev provider: the Microsoft identity platform v2.0 as
// Microsoft documents it, under /entra on the dev server.
//
// One oidc-provider instance per tenant (issuer `<base>/entra/<tid>/v2.0`,
// the dev server's shared keys), at Entra's paths:
//   /entra/<tid>/v2.0/.well-known/openid-configuration
//   /entra/<tid>/oauth2/v2.0/authorize | /token     /entra/<tid>/discovery/v2.0/keys
// `consumers` is the personal-account tenant 9188040d-… under another name
// (its discovery names that tenant's issuer, as Entra's does).
// `common` and `organizations` are a facade: discovery publishes the issuer
// template `<base>/entra/{tenantid}/v2.0`; authorize asks who signs in (or takes
// login_hint / domain_hint) and continues at that user's tenant with the same
// parameters; token finds the tenant whose instance issued the code and
// forwards the request there, so every ID token's `iss` is the user's own tenant.

import { createHash } from 'node:crypto';
import { escape, page, readForm, send, sendJson } from './lib/html.mjs';
import { createImitation } from './lib/imitation.mjs';

export const CONSUMER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
export const TENANTS = [
  { tid: '3f6c2d1a-8b4e-4c7f-9a15-2e7d0b9c4a61', name: 'Contoso (dev)', domain: 'contoso.example', kind: 'work' },
  { tid: 'b8e41f07-5d2c-4a96-8e3b-71c9f0a2d5e4', name: 'Fabrikam (dev)', domain: 'fabrikam.example', kind: 'work' },
  { tid: CONSUMER_TENANT, name: 'Microsoft accounts (dev)', domain: 'outlook.example', kind: 'personal' },
];

// Work accounts sign in with their UPN; pat has a mail attribute (email claim),
// sam has none (as many work accounts), kim is a personal Microsoft account
// (Entra's personal-account oids start 00000000-0000-0000-).
export const USERS = [
  { login: 'pat', upn: 'pat@contoso.example', tid: TENANTS[0].tid, oid: '6a1f0c3e-2b7d-4e58-a9c4-1d3e5f7a9b20', name: 'Pat Doe', email: 'pat.doe@contoso.example' },
  { login: 'sam', upn: 'sam@fabrikam.example', tid: TENANTS[1].tid, oid: 'c47e9b12-0f3a-4d6c-8b5e-2a9d1c7f3e64', name: 'Sam Roe' },
  { login: 'kim', upn: 'kim@outlook.example', tid: CONSUMER_TENANT, oid: '00000000-0000-0000-4f2a-6c1d8e9b3a57', name: 'Kim Poe', email: 'kim@outlook.example' },
];

// Entra's sub is pairwise: the same person has another sub in another app.
// Per client id and tenant here (43 base64url characters, Entra's length).
function pairwiseSub(clientId, user) {
  return createHash('sha256').update(`${clientId}|${user.tid}|${user.oid}`).digest('base64url').slice(0, 43);
}

const ALIASES = new Set(['common', 'organizations']);
const ACCOUNT_COOKIE = '_entra_account';

// clients(providerId) -> oidc-provider client metadata; optionalAuthTime(clientId)
// says whether the app registration has the `auth_time` optional claim.
export function createEntra({ base, jwks, clients, optionalAuthTime }) {
  const tenants = new Map(TENANTS.map((tenant) => {
    const users = USERS.filter((u) => u.tid === tenant.tid).map((u) => ({
      accountId: u.oid,
      logins: [u.login, u.upn],
      claims: () => ({
        ver: '2.0',
        tid: u.tid,
        oid: u.oid,
        name: u.name,
        preferred_username: u.upn,
        ...(u.email ? { email: u.email } : {}),
      }),
    }));
    const imitation = createImitation({
      issuer: `${base}/entra/${tenant.tid}/v2.0`,
      mountPath: `/entra/${tenant.tid}`,
      routes: {
        authorization: '/oauth2/v2.0/authorize',
        token: '/oauth2/v2.0/token',
        jwks: '/discovery/v2.0/keys',
        userinfo: '/oidc/userinfo',
        end_session: '/oauth2/v2.0/logout',
      },
      clients,
      users,
      claims: { openid: ['sub', 'ver', 'tid', 'oid'], email: ['email'], profile: ['name', 'preferred_username'] },
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      cookiePrefix: `_entra_${tenant.tid.slice(0, 8)}`,
      jwks,
      imitates: `Microsoft Entra ID (tenant ${tenant.name})`,
      loginTitle: `Microsoft (dev imitation) — ${tenant.name}`,
      loginHint: `Demo ${tenant.kind === 'personal' ? 'personal account' : 'work account'}: <code>${escape(USERS.find((u) => u.tid === tenant.tid).upn)}</code> (or <code>${escape(USERS.find((u) => u.tid === tenant.tid).login)}</code>), password <code>demo</code>.`,
      // sub is pairwise (pairwiseSub), as Entra's discovery says.
      discoveryEdit: (doc) => { doc.subject_types_supported = ['pairwise']; },
    });
    // oidc-provider makes sub the account id (the oid here); Entra's differs
    // per app. Swapped wherever claims are released (ID token and userinfo).
    const { Claims, IdToken } = imitation.provider;
    const result = Claims.prototype.result;
    Claims.prototype.result = async function entraClaims() {
      const claims = await result.call(this);
      const user = USERS.find((u) => u.oid === claims.sub);
      if (user) claims.sub = pairwiseSub(this.client.clientId, user);
      return claims;
    };
    // A private_key_jwt assertion may name the token endpoint it was posted
    // to, the facade's included (the facade forwards it to this tenant).
    const { OIDCContext } = imitation.provider;
    const audiences = OIDCContext.prototype.clientJwtAuthExpectedAudience;
    OIDCContext.prototype.clientJwtAuthExpectedAudience = function entraAudiences() {
      return new Set([...audiences.call(this), ...[...ALIASES].map((alias) => `${base}/entra/${alias}/oauth2/v2.0/token`)]);
    };
    // Entra puts auth_time in an ID token only when the app registration has
    // the optional claim, whatever the request (oidc-provider would add it for
    // max_age or prompt=login as OIDC Core asks).
    const payload = IdToken.prototype.payload;
    IdToken.prototype.payload = async function entraPayload() {
      const claims = await payload.call(this);
      if (!optionalAuthTime(this.client.clientId)) delete claims.auth_time;
      return claims;
    };
    return [tenant.tid, { ...tenant, imitation }];
  }));
  const consumer = tenants.get(CONSUMER_TENANT);
  const first = tenants.get(TENANTS[0].tid);

  function findUser(hint) {
    const value = String(hint || '').trim().toLowerCase();
    return USERS.find((u) => u.login === value || u.upn === value);
  }

  async function aliasDiscovery(req, res, alias) {
    // The first tenant's document, with the alias's endpoints and the template issuer.
    const answer = await fetch(`${base}/entra/${TENANTS[0].tid}/v2.0/.well-known/openid-configuration`);
    const text = (await answer.text()).replaceAll(`/entra/${TENANTS[0].tid}/`, `/entra/${alias}/`);
    const doc = JSON.parse(text);
    doc.issuer = `${base}/entra/{tenantid}/v2.0`;
    delete doc.userinfo_endpoint; // Entra's is Microsoft Graph's, outside this facade
    return sendJson(res, 200, doc);
  }

  function usernamePage(alias, query, error, login) {
    return page('Sign in — Microsoft (dev imitation)', `
<h1>Microsoft (dev imitation) — sign in</h1>
<p class="hint">This page imitates the <strong>Microsoft identity platform</strong>'s <code>${escape(alias)}</code> sign-in: it asks who you are, then sends you to your own tenant. Local development only.</p>
${error ? `<p class="error" id="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/entra/${escape(alias)}/oauth2/v2.0/authorize" autocomplete="off">
<input type="hidden" name="request" value="${escape(query)}">
<label for="login">Email, phone or Skype</label>
<input id="login" name="login" value="${escape(login || '')}" required autofocus>
<button type="submit">Next</button>
</form>
<p class="hint">Demo accounts: ${USERS.filter((u) => alias === 'common' || u.tid !== CONSUMER_TENANT).map((u) => `<code>${escape(u.upn)}</code> (or <code>${escape(u.login)}</code>)`).join(', ')}; password <code>demo</code>.</p>`);
  }

  function continueAt(res, user, params) {
    const next = new URLSearchParams(params);
    next.set('login_hint', user.upn);
    // The facade's account picker already let the person choose.
    if (next.get('prompt') === 'select_account') next.delete('prompt');
    // Entra's own session cookie remembers who signed in last, across tenants.
    res.writeHead(303, {
      location: `/entra/${user.tid}/oauth2/v2.0/authorize?${next}`,
      'cache-control': 'no-store',
      'set-cookie': `${ACCOUNT_COOKIE}=${encodeURIComponent(user.upn)}; Path=/entra; HttpOnly; SameSite=Lax`,
    });
    return res.end();
  }

  async function aliasAuthorize(req, res, alias, url) {
    let params = url.searchParams;
    let typed;
    if (req.method === 'POST') {
      const form = await readForm(req);
      params = new URLSearchParams(form.get('request') || '');
      typed = form.get('login') || '';
    }
    // Entra checks the application and its redirect URI before anyone signs in,
    // and says so on its own page rather than redirecting.
    const client = await first.imitation.provider.Client.find(params.get('client_id') || '');
    if (!client) {
      return send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1><p>AADSTS700016: Application with identifier '${escape(params.get('client_id'))}' was not found.</p>`));
    }
    if (!client.redirectUriAllowed(params.get('redirect_uri') || '')) {
      return send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1><p>AADSTS50011: The redirect URI '${escape(params.get('redirect_uri'))}' specified in the request does not match the redirect URIs configured for the application.</p>`));
    }
    const allowed = (user) => alias === 'common' || user.tid !== CONSUMER_TENANT;
    if (typed !== undefined) {
      const user = findUser(typed);
      if (!user) return send(res, 400, usernamePage(alias, params.toString(), "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin.", typed));
      if (!allowed(user)) return send(res, 400, usernamePage(alias, params.toString(), "You can't sign in here with a personal account. Use your work or school account instead.", typed));
      return continueAt(res, user, params);
    }
    const prompt = params.get('prompt') || '';
    const hinted = findUser(params.get('login_hint'));
    if (hinted && allowed(hinted) && prompt !== 'select_account') return continueAt(res, hinted, params);
    const domainHint = (params.get('domain_hint') || '').toLowerCase();
    const hintedTenant = domainHint === 'consumers' && alias === 'common' ? consumer : TENANTS.find((t) => t.kind === 'work' && t.domain === domainHint);
    if (hintedTenant) {
      res.writeHead(303, { location: `/entra/${hintedTenant.tid}/oauth2/v2.0/authorize?${params}`, 'cache-control': 'no-store' });
      return res.end();
    }
    const remembered = findUser(decodeURIComponent(String(req.headers.cookie || '').match(new RegExp(`(?:^|; )${ACCOUNT_COOKIE}=([^;]*)`))?.[1] || ''));
    if (remembered && allowed(remembered) && prompt !== 'login' && prompt !== 'select_account') return continueAt(res, remembered, params);
    if (prompt === 'none') {
      // Nothing says who is signing in: Entra answers interaction_required.
      const back = new URL(params.get('redirect_uri'));
      back.searchParams.set('error', 'interaction_required');
      back.searchParams.set('error_description', 'AADSTS50058: A silent sign-in request was sent but no user is signed in.');
      if (params.get('state')) back.searchParams.set('state', params.get('state'));
      res.writeHead(303, { location: back.toString() });
      return res.end();
    }
    return send(res, 200, usernamePage(alias, params.toString(), null, params.get('login_hint') || remembered?.upn || ''));
  }

  async function aliasToken(req, res, alias) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const code = new URLSearchParams(body.toString()).get('code') || '';
    let target = TENANTS[0].tid;
    for (const [tid, tenant] of tenants) {
      if (code && await tenant.imitation.provider.AuthorizationCode.find(code, { ignoreExpiration: true })) target = tid;
    }
    const headers = { 'content-type': req.headers['content-type'] || 'application/x-www-form-urlencoded' };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const answer = await fetch(`${base}/entra/${target}/oauth2/v2.0/token`, { method: 'POST', headers, body });
    const out = {};
    for (const name of ['content-type', 'cache-control', 'pragma', 'www-authenticate']) {
      if (answer.headers.get(name)) out[name] = answer.headers.get(name);
    }
    res.writeHead(answer.status, out);
    return res.end(Buffer.from(await answer.arrayBuffer()));
  }

  // Serves any path under /entra/.
  return async function handleEntra(req, res, url) {
    const [, , segment = '', ...restParts] = url.pathname.split('/');
    let rest = `/${restParts.join('/')}`;
    const query = url.search;
    if (ALIASES.has(segment)) {
      if (rest === '/v2.0/.well-known/openid-configuration' && req.method === 'GET') return aliasDiscovery(req, res, segment);
      if (rest === '/oauth2/v2.0/authorize') return aliasAuthorize(req, res, segment, url);
      if (rest === '/oauth2/v2.0/token' && req.method === 'POST') return aliasToken(req, res, segment);
      if (rest === '/discovery/v2.0/keys') return first.imitation.handle(req, res, `${rest}${query}`);
      return send(res, 404, page('Not found', '<p>Not found.</p>'));
    }
    const tenant = segment === 'consumers' ? consumer : tenants.get(segment);
    if (!tenant) return send(res, 404, page('Not found', `<p>AADSTS90002: Tenant '${escape(segment)}' not found.</p>`));
    // Discovery lives under the issuer (…/<tenant>/v2.0); the endpoints one level up.
    if (rest === '/v2.0/.well-known/openid-configuration') rest = '/.well-known/openid-configuration';
    return tenant.imitation.handle(req, res, `${rest}${query}`, `/entra/${segment}`);
  };
}
