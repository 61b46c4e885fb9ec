// The portal's sessions and CSRF tokens, without a server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COOKIE_NAME, SessionStore, clearedSessionCookie, csrfMatches, parseCookies, sessionCookie } from '../lib/sessions.mjs';

const cookieHeader = (session) => `other=1; ${COOKIE_NAME}=${session.id}`;

describe('cookies', () => {
  test('parseCookies reads name=value pairs, keeps = inside values, and the first of a repeated name', () => {
    const cookies = Object.fromEntries(parseCookies(' a=1; b=x=y ; a=2; junk; =nameless'));
    assert.deepEqual(cookies, { a: '1', b: 'x=y' }, `saw ${JSON.stringify(cookies)}`);
    const none = parseCookies(undefined).size;
    assert.equal(none, 0, `no header, saw ${none} cookies`);
  });

  test('the session cookie is HttpOnly and SameSite=Lax, for the whole site, without Secure (plain http on loopback)', () => {
    const cookie = sessionCookie('abc');
    assert.equal(cookie, `${COOKIE_NAME}=abc; Path=/; HttpOnly; SameSite=Lax`, `saw ${cookie}`);
    const cleared = clearedSessionCookie();
    assert.match(cleared, new RegExp(`^${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0$`), `saw ${cleared}`);
  });
});

describe('SessionStore', () => {
  test('a new session has a random 256-bit id and CSRF token, and is found by its cookie', () => {
    const store = new SessionStore();
    const a = store.create();
    const b = store.create();
    assert.match(a.id, /^[\w-]{43}$/, `a 32-byte base64url id, saw ${a.id}`);
    assert.match(a.csrf, /^[\w-]{43}$/, `a 32-byte base64url CSRF token, saw ${a.csrf}`);
    assert.notEqual(a.id, b.id, `two sessions, two ids, saw ${a.id} twice`);
    assert.notEqual(a.id, a.csrf, 'the CSRF token is not the id');
    const found = store.find(cookieHeader(a));
    assert.equal(found, a, `found by cookie, saw ${JSON.stringify(found)}`);
    const unknown = store.find(`${COOKIE_NAME}=not-a-session`);
    assert.equal(unknown, undefined, `an unknown id finds nothing, saw ${JSON.stringify(unknown)}`);
  });

  test('rotate gives the same data a new id and CSRF token, and the old id finds nothing', () => {
    const store = new SessionStore();
    const old = store.create();
    old.pending = { state: 's' };
    const next = store.rotate(old);
    assert.notEqual(next.id, old.id, `a new id, saw ${next.id}`);
    assert.notEqual(next.csrf, old.csrf, `a new CSRF token, saw ${next.csrf}`);
    assert.deepEqual(next.pending, { state: 's' }, `the data kept, saw ${JSON.stringify(next)}`);
    const stale = store.find(cookieHeader(old));
    assert.equal(stale, undefined, `the old id is gone, saw ${JSON.stringify(stale)}`);
    assert.equal(store.find(cookieHeader(next)), next, 'the new id finds the session');
  });

  test('destroy forgets the session', () => {
    const store = new SessionStore();
    const session = store.create();
    store.destroy(session);
    const found = store.find(cookieHeader(session));
    assert.equal(found, undefined, `saw ${JSON.stringify(found)}`);
  });

  test('a session idle longer than the limit is gone; one in use stays; creating sweeps the idle ones', () => {
    let now = 0;
    const store = new SessionStore({ idleMs: 1000, now: () => now });
    const used = store.create();
    const idle = store.create();
    now = 900;
    assert.equal(store.find(cookieHeader(used)), used, 'used within the limit');
    now = 1500;
    assert.equal(store.find(cookieHeader(used)), used, 'still there: its last use was 600 ms ago');
    const expired = store.find(cookieHeader(idle));
    assert.equal(expired, undefined, `idle for 1500 ms, saw ${JSON.stringify(expired)}`);
    const other = store.create();
    now = 3000;
    store.create();
    assert.equal(store.sessions.has(other.id), false, `swept after 1500 ms idle, saw ids ${[...store.sessions.keys()]}`);
  });
});

describe('csrfMatches', () => {
  test("only the session's own token matches", () => {
    const session = new SessionStore().create();
    const results = [session.csrf, `${session.csrf}x`, session.csrf.slice(1), '', undefined, null, 42].map((t) => csrfMatches(session, t));
    assert.deepEqual(results, [true, false, false, false, false, false, false], `saw ${JSON.stringify(results)}`);
    const noSession = csrfMatches(undefined, session.csrf);
    assert.equal(noSession, false, `no session, saw ${noSession}`);
  });
});
