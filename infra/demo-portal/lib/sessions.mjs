// The portal's own sessions: server-side, in memory (a demo runs one process,
// and a restart simply signs everyone out), found by a random 256-bit id in a
// cookie. Each session has a CSRF token that every form posts back.

import { randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_NAME = 'demo_portal_session';
const IDLE_MS = 8 * 60 * 60 * 1000;

const randomId = () => randomBytes(32).toString('base64url');

// Cookie header → Map of name → value (the first of a repeated name wins, as
// browsers send the most specific cookie first).
export function parseCookies(header) {
  const cookies = new Map();
  for (const part of String(header ?? '').split(';').map((p) => p.trim())) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

// HttpOnly: scripts never see it. SameSite=Lax: sent on the top-level
// redirect back from profile-link to /callback, not on cross-site POSTs. No
// Secure flag: the demo is plain http on loopback, where a Secure cookie
// would not be sent back at all.
export function sessionCookie(id) {
  return `${COOKIE_NAME}=${id}; Path=/; HttpOnly; SameSite=Lax`;
}

export function clearedSessionCookie() {
  return `${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}

export class SessionStore {
  constructor({ idleMs = IDLE_MS, now = Date.now } = {}) {
    this.idleMs = idleMs;
    this.now = now;
    this.sessions = new Map();
  }

  // The session the request's cookie names, if it exists and is not idle too long.
  find(cookieHeader) {
    const id = parseCookies(cookieHeader).get(COOKIE_NAME);
    const session = id && this.sessions.get(id);
    if (!session) return undefined;
    if (this.now() - session.lastSeen > this.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = this.now();
    return session;
  }

  create() {
    this.sweep();
    const session = { id: randomId(), csrf: randomId(), lastSeen: this.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  // A new id (and CSRF token) for the same session, at sign-in: an id that
  // anyone saw before the sign-in is worth nothing after it.
  rotate(session) {
    this.sessions.delete(session.id);
    const next = { ...session, id: randomId(), csrf: randomId(), lastSeen: this.now() };
    this.sessions.set(next.id, next);
    return next;
  }

  destroy(session) {
    this.sessions.delete(session.id);
  }

  // Ends every signed-in session of OP session `sid` (its ID token's sid, and
  // sub too when given), or, with no sid, every one of subject `sub`: what a
  // back-channel logout token names. Returns how many ended.
  endSignedIn({ sid, sub }) {
    let ended = 0;
    for (const [id, session] of this.sessions) {
      const claims = session.user?.claims;
      if (!claims) continue;
      const matches = sid !== undefined ? claims.sid === sid && (sub === undefined || claims.sub === sub) : claims.sub === sub;
      if (matches) {
        this.sessions.delete(id);
        ended += 1;
      }
    }
    return ended;
  }

  sweep() {
    const cutoff = this.now() - this.idleMs;
    for (const [id, session] of this.sessions) if (session.lastSeen < cutoff) this.sessions.delete(id);
  }
}

export function csrfMatches(session, token) {
  if (!session || typeof token !== 'string') return false;
  const expected = Buffer.from(session.csrf);
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
