// OpenID Connect Back-Channel Logout 1.0 at the portal: profile-link POSTs
// `logout_token=<JWT>` to /backchannel-logout when a session it told this
// portal about ends (sign-out, sign-out everywhere) or a profile it told
// about is no longer the person's (unlinked, revoked by support, taken over).
// The token is validated as §2.6 says; then every portal session of its sid
// (or, without a sid, of its sub) ends.

import * as jose from 'jose';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
// A logout token is small (a few hundred bytes); anything much larger is not one.
export const MAX_LOGOUT_BODY_BYTES = 8 * 1024;
// Clock skew allowed on iat and exp, in seconds.
const CLOCK_TOLERANCE = 5;

export class InvalidLogoutToken extends Error {}

// The JWKS verifier for the OP's jwks_uri: keys fetched on first need and
// again when a token names a key not yet seen (rotation).
export function remoteKeys(jwksUri) {
  return jose.createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 10_000 });
}

// The logout token's claims when it is one this portal must act on, else
// InvalidLogoutToken saying why. `keys` is a jose key (set) function,
// `algorithms` the portal's registered ID-token algorithm(s).
export async function validateLogoutToken(token, { issuer, clientId, keys, algorithms, currentDate }) {
  if (typeof token !== 'string' || token === '') throw new InvalidLogoutToken('no logout_token in the request');
  let verified;
  try {
    verified = await jose.jwtVerify(token, keys, {
      issuer, audience: clientId, algorithms, requiredClaims: ['iat', 'exp', 'jti'], clockTolerance: CLOCK_TOLERANCE, currentDate,
    });
  } catch (error) {
    // An OP that cannot be reached is not the token's fault: the caller answers 503.
    if (!(error instanceof jose.errors.JOSEError) || error instanceof jose.errors.JWKSTimeout) throw error;
    throw new InvalidLogoutToken(`the logout token was not accepted: ${error.message}`);
  }
  const { payload, protectedHeader } = verified;
  // §2.4: typ logout+jwt, when present (older OPs send none).
  const typ = protectedHeader.typ?.toLowerCase().replace(/^application\//, '');
  if (typ !== undefined && typ !== 'logout+jwt') throw new InvalidLogoutToken(`typ must be logout+jwt, not ${JSON.stringify(protectedHeader.typ)}`);
  const events = payload.events;
  if (!events || typeof events !== 'object' || Array.isArray(events)
    || !events[BACKCHANNEL_LOGOUT_EVENT] || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object') {
    throw new InvalidLogoutToken(`events must name ${BACKCHANNEL_LOGOUT_EVENT} with an object`);
  }
  // A nonce would let an ID token pass for a logout token (§2.6 step 5).
  if ('nonce' in payload) throw new InvalidLogoutToken('a logout token must not contain a nonce');
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  if (!sid && !sub) throw new InvalidLogoutToken('a logout token must contain sid or sub');
  return { sid, sub, jti: payload.jti };
}
