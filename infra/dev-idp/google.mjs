// The Google-like dev provider, under /google on the dev server: Google's
// OpenID Connect as Google documents it.
// - `prompt` takes only `none`, `consent` and `select_account`; any other value
//   (notably `login`) ends on Google's own error page, with no redirect back.
// - `max_age` is honoured, and `auth_time` is in the ID token only when the
//   request sent `max_age`.
// - `email_verified` is always present; `hd` names a Workspace user's domain.
// Paths follow Google's (on one host): /google/o/oauth2/v2/auth, /google/token,
// /google/oauth2/v3/certs, /google/v1/userinfo.

import { escape, page, send } from './lib/html.mjs';
import { createImitation } from './lib/imitation.mjs';

export const GOOGLE_PROMPTS = new Set(['none', 'consent', 'select_account']);

// Google's sub is a decimal number, the same for every app.
export const USERS = [
  { login: 'pat', email: 'pat.doe@gmail.example', sub: '108392718463920174652', name: 'Pat Doe', given: 'Pat', family: 'Doe' },
  { login: 'sam', email: 'sam@fabrikam.example', sub: '113057946218830472915', name: 'Sam Roe', given: 'Sam', family: 'Roe', hd: 'fabrikam.example' },
];

export function createGoogle({ base, jwks, clients }) {
  const imitation = createImitation({
    issuer: `${base}/google`,
    mountPath: '/google',
    routes: {
      authorization: '/o/oauth2/v2/auth',
      token: '/token',
      jwks: '/oauth2/v3/certs',
      userinfo: '/v1/userinfo',
      revocation: '/revoke',
    },
    clients,
    users: USERS.map((u) => ({
      accountId: u.sub,
      logins: [u.login, u.email],
      claims: () => ({
        sub: u.sub,
        email: u.email,
        email_verified: true,
        name: u.name,
        given_name: u.given,
        family_name: u.family,
        ...(u.hd ? { hd: u.hd } : {}),
      }),
    })),
    claims: { openid: ['sub', 'hd'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    cookiePrefix: '_google',
    jwks,
    imitates: 'Google (Sign in with Google, OpenID Connect)',
    loginTitle: 'Google (dev imitation)',
    loginHint: 'Demo accounts: <code>pat</code> (pat.doe@gmail.example) and <code>sam</code> (Workspace, fabrikam.example), password <code>demo</code>.',
  });

  function promptError(res, value) {
    return send(res, 400, page('Error 400: invalid_request', `
<h1>Access blocked: Authorization Error</h1>
<p class="hint">This page imitates <strong>Google</strong>'s sign-in error page. Local development only.</p>
<p class="error" role="alert">Error 400: invalid_request</p>
<p>Invalid parameter value for prompt: Invalid prompt: ${escape(value)}</p>
<p class="hint">Google accepts only <code>none</code>, <code>consent</code> and <code>select_account</code>; ask for a fresh sign-in with <code>max_age</code>.</p>`));
  }

  // Serves any path under /google.
  return async function handleGoogle(req, res, url) {
    const rest = url.pathname.slice('/google'.length) || '/';
    if (rest === '/o/oauth2/v2/auth' && (req.method === 'GET' || req.method === 'POST')) {
      const prompt = url.searchParams.get('prompt');
      const bad = prompt === null ? [] : prompt.split(' ').filter((value) => !GOOGLE_PROMPTS.has(value));
      if (bad.length) return promptError(res, bad.join(' '));
    }
    return imitation.handle(req, res, `${rest}${url.search}`);
  };
}
