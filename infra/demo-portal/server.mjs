// A small demo customer portal that signs people in with profile-link as its
// OpenID Provider, the way a company's portal would: the certified relying
// party library openid-client, the authorization code flow with PKCE, state
// and nonce, and the `profiles` claim saying whom the person may act for.
// Local only: it listens on 127.0.0.1 and keeps its sessions in memory.
//
// Configuration (environment): DEMO_PORTAL_ISSUER (required, profile-link's
// base URL), DEMO_PORTAL_PORT (3100), DEMO_PORTAL_CLIENT_ID (demo-portal),
// DEMO_PORTAL_CLIENT_SECRET (demo-portal-secret), DEMO_PORTAL_NAME (Demo portal).

import { createServer } from 'node:http';
import * as client from 'openid-client';
import {
  InvalidLogoutToken, MAX_LOGOUT_BODY_BYTES, remoteKeys, validateLogoutToken,
} from './lib/backchannel.mjs';
import { ConfigError, parseConfig } from './lib/config.mjs';
import { contentSecurityPolicy, errorPage, homePage } from './lib/html.mjs';
import {
  BadRequest, ID_TOKEN_SIGNED_RESPONSE_ALG, describeCallbackError, discoverProfileLink, isTokenRejected, isUnreachable,
  lazyDiscovery, loginParameters,
} from './lib/oidc.mjs';
import { SessionStore, clearedSessionCookie, csrfMatches, sessionCookie } from './lib/sessions.mjs';

let config;
try {
  config = parseConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`demo portal: ${error.message}`);
  process.exit(1);
}

const sessions = new SessionStore();
const profileLink = lazyDiscovery(() => discoverProfileLink(config));
const csp = contentSecurityPolicy(config.issuerUrl);
const { portalName, issuer } = config;

function sendHtml(res, status, html, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    // Pages show personal data: never cached.
    'cache-control': 'no-store',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(html);
}

function redirect(res, status, location, headers = {}) {
  res.writeHead(status, { location, 'cache-control': 'no-store', ...headers });
  res.end();
}

const unreachablePage = (error) => errorPage({
  portalName,
  title: 'profile-link is not reachable',
  message: isUnreachable(error)
    ? `profile-link is not reachable at ${issuer}; is scripts/dev running?`
    : `profile-link at ${issuer} answered, but its OpenID configuration was not accepted.`,
  code: error.code || error.cause?.code,
  detail: [error.message, error.cause?.message].filter(Boolean).join(': '),
});

// Discovery, or a 503 page and undefined when profile-link cannot be used yet.
async function opOr503(res, headers = {}) {
  try {
    return await profileLink();
  } catch (error) {
    console.error(`discovery at ${issuer} failed: ${error.message}${error.cause?.message ? `: ${error.cause.message}` : ''}`);
    sendHtml(res, 503, unreachablePage(error), headers);
    return undefined;
  }
}

async function readForm(req, limit = 16 * 1024) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new BadRequest('form too large');
  }
  return new URLSearchParams(body);
}

// The session a POST form acts on, or undefined after answering: to / when
// there is no session (nothing to act on), 403 when the CSRF token is wrong.
async function formSession(req, res) {
  const session = sessions.find(req.headers.cookie);
  const form = await readForm(req);
  if (!session) {
    redirect(res, 303, '/');
    return undefined;
  }
  if (!csrfMatches(session, form.get('csrf'))) {
    sendHtml(res, 403, errorPage({
      portalName, title: 'Form expired', message: 'This form is out of date (or was not sent from this portal). Go back home and try again.',
      code: 'csrf_mismatch', signIn: false,
    }));
    return undefined;
  }
  return session;
}

function home(req, res) {
  const session = sessions.find(req.headers.cookie);
  const notice = session?.notice;
  if (session) session.notice = undefined;
  sendHtml(res, 200, homePage({ portalName, issuer, user: session?.user, csrf: session?.csrf, notice }));
}

async function login(req, res, url) {
  const op = await opOr503(res);
  if (!op) return;
  const extra = loginParameters(url.searchParams, [issuer, op.serverMetadata().issuer]);
  let session = sessions.find(req.headers.cookie);
  const headers = {};
  if (!session) {
    session = sessions.create();
    headers['set-cookie'] = sessionCookie(session.id);
  }
  // One sign-in in progress per session: a new /login replaces the last one.
  const pending = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
  session.pending = pending;
  const authorizationUrl = client.buildAuthorizationUrl(op, {
    redirect_uri: config.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
    ...extra,
  });
  redirect(res, 302, authorizationUrl.href, headers);
}

async function callback(req, res, url) {
  const session = sessions.find(req.headers.cookie);
  const pending = session?.pending;
  if (!pending) {
    return sendHtml(res, 400, errorPage({
      portalName, title: 'Sign-in did not complete',
      message: 'This browser has no sign-in in progress here: it may have expired, the portal may have restarted, or the link was opened elsewhere. Start again.',
      code: 'no_sign_in_in_progress',
    }));
  }
  // Each sign-in's state, nonce and verifier are used once, whatever the outcome.
  session.pending = undefined;
  const op = await opOr503(res);
  if (!op) return undefined;
  let tokens;
  try {
    tokens = await client.authorizationCodeGrant(op, url, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
  } catch (error) {
    if (isUnreachable(error)) return sendHtml(res, 503, unreachablePage(error));
    console.error(`callback failed: ${error.code || error.name}: ${error.message}${error.cause?.message ? `: ${error.cause.message}` : ''}`);
    return sendHtml(res, 400, errorPage({ portalName, ...describeCallbackError(error) }));
  }
  const signedIn = sessions.rotate(session);
  signedIn.user = { claims: tokens.claims(), accessToken: tokens.access_token, idToken: tokens.id_token };
  return redirect(res, 303, '/', { 'set-cookie': sessionCookie(signedIn.id) });
}

// Asks profile-link's userinfo endpoint again, for profiles linked since sign-in.
async function refresh(req, res) {
  const session = await formSession(req, res);
  if (!session) return;
  if (!session.user) return redirect(res, 303, '/');
  const op = await opOr503(res);
  if (!op) return;
  try {
    const info = await client.fetchUserInfo(op, session.user.accessToken, session.user.claims.sub);
    session.user.claims = { ...session.user.claims, profiles: info.profiles };
    session.notice = { kind: 'ok', text: 'Refreshed from profile-link just now.' };
  } catch (error) {
    if (isTokenRejected(error)) {
      session.notice = {
        kind: 'error', code: 'invalid_token', signInAgain: true,
        text: "profile-link no longer accepts this sign-in's access token (it has expired): sign in again to see your profiles as they are now.",
      };
    } else {
      console.error(`userinfo failed: ${error.code || error.name}: ${error.message}`);
      session.notice = {
        kind: 'error', code: error.code || error.error || error.name,
        text: isUnreachable(error) ? `profile-link is not reachable at ${issuer}; is scripts/dev running?` : 'profile-link did not answer the refresh as expected.',
      };
    }
  }
  redirect(res, 303, '/');
}

// Signs out here first, then at profile-link (RP-initiated logout), which
// sends the browser back to / .
async function logout(req, res) {
  const session = await formSession(req, res);
  if (!session) return;
  sessions.destroy(session);
  const cleared = { 'set-cookie': clearedSessionCookie() };
  if (!session.user) return redirect(res, 303, '/', cleared);
  const op = await opOr503(res, cleared);
  if (!op) return;
  const endSession = client.buildEndSessionUrl(op, {
    id_token_hint: session.user.idToken,
    post_logout_redirect_uri: config.postLogoutRedirectUri,
    // Sent as the spec recommends; not checked on return, as the portal's
    // session is already gone and / does nothing with it.
    state: client.randomState(),
  });
  redirect(res, 303, endSession.href, cleared);
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

// Back-Channel Logout 1.0 §2.5–2.8: profile-link posts a logout token; every
// session it names ends here. 200 when done (also when no session matched),
// 400 with a JSON error for anything that is not a valid logout token.
let opKeys;
async function backchannelLogout(req, res) {
  const invalid = (description) => sendJson(res, 400, { error: 'invalid_request', error_description: description });
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    req.resume();
    return invalid('the logout token is sent as a form: content-type application/x-www-form-urlencoded');
  }
  let form;
  try {
    form = await readForm(req, MAX_LOGOUT_BODY_BYTES);
  } catch (error) {
    if (error instanceof BadRequest) return invalid(`the body is larger than ${MAX_LOGOUT_BODY_BYTES} bytes`);
    throw error;
  }
  let op;
  try {
    op = await profileLink();
  } catch (error) {
    console.error(`back-channel logout: discovery at ${issuer} failed: ${error.message}`);
    return sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'profile-link\'s keys could not be read' });
  }
  const metadata = op.serverMetadata();
  opKeys ??= remoteKeys(metadata.jwks_uri);
  let named;
  try {
    named = await validateLogoutToken(form.get('logout_token'), {
      issuer: metadata.issuer, clientId: config.clientId, keys: opKeys, algorithms: [ID_TOKEN_SIGNED_RESPONSE_ALG],
    });
  } catch (error) {
    if (error instanceof InvalidLogoutToken) {
      console.error(`back-channel logout refused: ${error.message}`);
      return invalid(error.message);
    }
    console.error(`back-channel logout: profile-link's keys could not be read: ${error.message}`);
    return sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'profile-link\'s keys could not be read' });
  }
  const ended = sessions.endSignedIn(named);
  console.log(`back-channel logout: ${ended} session(s) ended`);
  return sendJson(res, 200, { ended });
}

const ROUTES = {
  'GET /': home,
  'GET /login': login,
  'GET /callback': callback,
  'POST /refresh': refresh,
  'POST /logout': logout,
  'POST /backchannel-logout': backchannelLogout,
};

async function handle(req, res) {
  // Paths only (no absolute-form request targets): URLs below are this origin's.
  if (!req.url.startsWith('/')) {
    return sendHtml(res, 400, errorPage({ portalName, title: 'Bad request', message: 'Not a path on this portal.', signIn: false }));
  }
  // One origin only: the redirect URI and the cookie are for 127.0.0.1, so a
  // page opened as localhost would lose its session at the callback.
  if (req.headers.host !== `127.0.0.1:${config.port}`) {
    if (req.method === 'GET') return redirect(res, 308, `${config.origin}${req.url}`);
    return sendHtml(res, 400, errorPage({ portalName, title: 'Wrong address', message: `Open the portal at ${config.origin}/.`, signIn: false }));
  }
  const url = new URL(req.url, config.origin);
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    return res.end('ok');
  }
  const route = ROUTES[`${req.method} ${url.pathname}`];
  if (route) return route(req, res, url);
  const known = Object.keys(ROUTES).some((key) => key.endsWith(` ${url.pathname}`));
  return sendHtml(res, known ? 405 : 404, errorPage({
    portalName, title: known ? 'Method not allowed' : 'Not found', message: 'There is no such page here.', signIn: false,
  }));
}

const server = createServer(async (req, res) => {
  try {
    await handle(req, res);
  } catch (error) {
    if (res.headersSent) return res.end();
    if (error instanceof BadRequest) {
      return sendHtml(res, 400, errorPage({ portalName, title: 'Bad request', message: error.message, code: 'invalid_request' }));
    }
    if (isUnreachable(error)) return sendHtml(res, 503, unreachablePage(error));
    console.error('request failed:', error);
    return sendHtml(res, 500, errorPage({ portalName, title: 'Something went wrong', message: 'The portal met an unexpected error.', code: error.code }));
  }
  return undefined;
});

server.on('error', (error) => {
  console.error(error.code === 'EADDRINUSE'
    ? `demo portal: port ${config.port} is already in use on 127.0.0.1: stop whatever listens there, or set DEMO_PORTAL_PORT`
    : `demo portal failed: ${error.message}`);
  process.exit(1);
});
server.listen(config.port, '127.0.0.1', () => {
  console.log(`demo portal listening on ${config.origin}/ (profile-link at ${issuer}, client ${config.clientId})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
