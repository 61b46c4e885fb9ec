// What the portal needs around openid-client: discovery that waits for the OP,
// the /login parameters it accepts, and plain words for what can go wrong.

import * as client from 'openid-client';

// Runs `discover` on first need and keeps its result; a failure is not kept,
// so the next request tries again (scripts/dev may start profile-link after
// the portal). Concurrent callers share one attempt.
export function lazyDiscovery(discover) {
  let attempt;
  return () => {
    attempt ??= discover().catch((error) => {
      attempt = undefined;
      throw error;
    });
    return attempt;
  };
}

// The OP as openid-client sees it: profile-link's discovery document, this
// portal's client id, client_secret_basic (said explicitly: given a bare
// secret, openid-client would use client_secret_post), and the ID token
// algorithm as registered (profile-link's default, RS256): openid-client
// then refuses an ID token signed any other way.
export const ID_TOKEN_SIGNED_RESPONSE_ALG = 'RS256';

export function discoverProfileLink(config) {
  const metadata = { id_token_signed_response_alg: ID_TOKEN_SIGNED_RESPONSE_ALG };
  return client.discovery(config.issuerUrl, config.clientId, metadata, client.ClientSecretBasic(config.clientSecret), {
    execute: config.allowInsecureRequests ? [client.allowInsecureRequests] : [],
    timeout: 10,
  });
}

export class BadRequest extends Error {}

const PROVIDER_ID = /^[a-z][a-z0-9-]{0,31}$/;
const PROMPTS = new Set(['none', 'login']);

// /login's query: ?idp_hint= names the upstream provider, ?prompt=none|login
// is for tests, ?iss= is OIDC third-party-initiated login (Core §4), which is
// honoured only from the issuer the portal trusts.
export function loginParameters(query, issuers) {
  const iss = query.get('iss');
  if (iss !== null && !issuers.includes(iss)) {
    throw new BadRequest(`This sign-in was started by ${JSON.stringify(iss)}, which is not the profile-link this portal uses (${issuers[0]}).`);
  }
  const idpHint = query.get('idp_hint');
  if (idpHint !== null && !PROVIDER_ID.test(idpHint)) {
    throw new BadRequest(`idp_hint must be a provider id (lower-case letters, digits and dashes), not ${JSON.stringify(idpHint)}.`);
  }
  const prompt = query.get('prompt');
  if (prompt !== null && !PROMPTS.has(prompt)) {
    throw new BadRequest(`prompt must be none or login, not ${JSON.stringify(prompt)}.`);
  }
  return {
    ...(idpHint !== null && { idp_hint: idpHint }),
    ...(prompt !== null && { prompt }),
  };
}

// The OP did not answer at all (down, wrong port, or too slow).
export function isUnreachable(error) {
  return (error instanceof TypeError && error.message === 'fetch failed') || error?.code === 'OAUTH_TIMEOUT';
}

// The OP refused the access token (expired or revoked): a 401, with or
// without the RFC 6750 WWW-Authenticate challenge.
export function isTokenRejected(error) {
  if (error instanceof client.WWWAuthenticateChallengeError) return error.status === 401;
  return error?.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && error.cause?.status === 401;
}

// Words for an OAuth error the OP sent to the callback (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
const AUTHORIZATION_ERRORS = {
  login_required: 'You are not signed in at profile-link, so it could not sign you in here without asking.',
  interaction_required: 'profile-link needs you to do something before it can sign you in here.',
  consent_required: 'profile-link needs your consent before it can sign you in here.',
  account_selection_required: 'profile-link needs you to choose an account.',
  access_denied: 'The sign-in was cancelled or refused.',
  temporarily_unavailable: 'profile-link is busy at the moment; try again in a little while.',
  server_error: 'profile-link met an error while signing you in.',
};

// Any error from the callback → { title, message, code, detail } for errorPage.
// `detail` is only ever text from openid-client or from an OP response whose
// state and iss it already checked, never from the query of an unchecked URL.
export function describeCallbackError(error) {
  if (error instanceof client.AuthorizationResponseError) {
    return {
      title: 'Sign-in did not complete',
      message: AUTHORIZATION_ERRORS[error.error] || 'profile-link answered the sign-in with an error.',
      code: error.error,
      detail: error.error_description,
    };
  }
  if (error instanceof client.ResponseBodyError) {
    return {
      title: 'Sign-in did not complete',
      message: 'profile-link refused to exchange the sign-in code for tokens (it may have been used already, or have expired). Start again.',
      code: error.error,
      detail: error.error_description,
    };
  }
  const cause = error?.cause instanceof Error ? error.cause.message : undefined;
  if (/"state"/.test(cause || '')) {
    return {
      title: 'Sign-in did not complete',
      message: 'This answer does not belong to the sign-in this browser started (it may be an old link, or from another tab). Start again.',
      code: error.code,
      detail: cause,
    };
  }
  if (/"iss"/.test(cause || '')) {
    return {
      title: 'Sign-in did not complete',
      message: 'This answer did not come from the profile-link this portal uses.',
      code: error.code,
      detail: cause,
    };
  }
  return {
    title: 'Sign-in did not complete',
    message: 'The answer from profile-link could not be accepted.',
    code: error?.code || error?.name,
    detail: [error?.message, cause].filter(Boolean).join(': '),
  };
}
