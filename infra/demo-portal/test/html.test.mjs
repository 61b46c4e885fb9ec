// The pages, rendered without a server: escaping of everything that comes
// from providers and customer records, and the element ids tests select.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { contentSecurityPolicy, errorPage, escape, homePage, profilesOf } from '../lib/html.mjs';
import { element } from '../../testing/harness.mjs';
import { profileItems } from '../testing/harness.mjs';

const base = { portalName: 'Demo portal', issuer: 'http://127.0.0.1:3000', csrf: 'csrf-token-1' };
const signedIn = (claims, extra = {}) => homePage({ ...base, user: { claims: { sub: 's', ...claims } }, ...extra });

describe('escape', () => {
  test('escapes the five HTML metacharacters and nothing else', () => {
    const out = escape(`<a href="x" title='y'>&{operator}$&</a>`);
    assert.equal(out, '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;{operator}$&amp;&lt;/a&gt;', `saw ${out}`);
  });

  test('turns undefined and null into the empty string, numbers into text', () => {
    const out = [escape(undefined), escape(null), escape(42)];
    assert.deepEqual(out, ['', '', '42'], `saw ${JSON.stringify(out)}`);
  });
});

describe('the home page', () => {
  test('signed out: the title, what this is, and #sign-in to /login; no forms', () => {
    const html = homePage({ ...base, portalName: 'Bakery <portal>' });
    assert.match(html, /<title>Bakery &lt;portal&gt;<\/title>/, `the title, saw ${html}`);
    assert.match(html, /<a id="sign-in" class="button" href="\/login">Sign in with profile-link<\/a>/, `#sign-in, saw ${html}`);
    assert.doesNotMatch(html, /<form/, `no forms when signed out, saw ${html}`);
    assert.equal(element(html, 'who'), undefined, `no #who when signed out, saw ${html}`);
  });

  test('signed in: who, through which provider, the profiles with their ids, #refresh and #sign-out with the CSRF token', () => {
    const html = signedIn({
      name: 'Pat Doe', email: 'pat@mail.example.net', idp: 'entra', idp_name: 'Microsoft',
      profiles: [{ id: 'p-1', name: 'Pat Doe', organization: 'Bakery' }],
    });
    const who = element(html, 'who')?.replace(/<[^>]+>/g, '');
    assert.equal(who, 'Signed in as Pat Doe (pat@mail.example.net, not verified by profile-link) through Microsoft.', `#who, saw ${html}`);
    assert.equal(element(html, 'provider'), 'Microsoft', `#provider, saw ${html}`);
    assert.deepEqual(profileItems(html), [{ id: 'p-1', text: 'Pat Doe, Bakery p-1' }], `#profiles li, saw ${html}`);
    assert.match(html, /<small class="profile-id">p-1<\/small>/, `the id shown small, saw ${html}`);
    for (const [action, id] of [['/refresh', 'refresh'], ['/logout', 'sign-out']]) {
      const form = new RegExp(`<form method="post" action="${action}"><input type="hidden" name="csrf" value="csrf-token-1"><button id="${id}"`);
      assert.match(html, form, `the ${action} form with its CSRF field and #${id}, saw ${html}`);
    }
  });

  test('hostile names, emails, providers and profiles are shown as text, not markup or placeholders', () => {
    const html = signedIn({
      name: '<script>alert(1)</script>',
      email: '"><img src=x onerror=alert(1)>',
      idp_name: '{operator}',
      profiles: [{ id: '" onmouseover="alert(1)', name: "$& $' $1 {operator}", organization: '</li><script>alert(2)</script>' }],
    });
    assert.doesNotMatch(html, /<script|<img|onmouseover="alert/, `no markup from claims, saw ${html}`);
    assert.match(html, /Signed in as <strong>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/strong>/, `the name escaped, saw ${html}`);
    assert.match(html, /\(&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;, not verified by profile-link\)/, `the email escaped, saw ${html}`);
    assert.equal(element(html, 'provider'), '{operator}', `the provider name literally, saw ${html}`);
    assert.deepEqual(profileItems(html), [{
      id: '" onmouseover="alert(1)', text: `$& $' $1 {operator}, </li><script>alert(2)</script> " onmouseover="alert(1)`,
    }], `the profile as text, saw ${html}`);
  });

  test('no profiles, or a profiles claim that is not a list: #no-profiles says to link them at profile-link', () => {
    for (const profiles of [[], undefined, 'p-1', { id: 'p-1' }]) {
      const html = signedIn({ name: 'Sam', profiles });
      const text = element(html, 'no-profiles')?.replace(/\s+/g, ' ');
      assert.match(text ?? '', /no customer profiles yet\. You link them at <a href="http:\/\/127\.0\.0\.1:3000">profile-link<\/a>/,
        `#no-profiles for ${JSON.stringify(profiles)}, saw ${html}`);
      assert.equal(element(html, 'profiles'), undefined, `no #profiles for ${JSON.stringify(profiles)}, saw ${html}`);
    }
  });

  test('a missing name, email or provider name reads sensibly', () => {
    const html = signedIn({ idp: 'google' });
    const who = element(html, 'who')?.replace(/<[^>]+>/g, '');
    assert.equal(who, 'Signed in as an account without a name through google.', `#who, saw ${html}`);
  });

  test('a one-time notice: #notice after a refresh, #error with its code and #sign-in-again when the token expired', () => {
    const ok = signedIn({ name: 'Pat' }, { notice: { kind: 'ok', text: 'Refreshed.' } });
    assert.equal(element(ok, 'notice'), 'Refreshed.', `#notice, saw ${ok}`);
    const expired = signedIn({ name: 'Pat' }, { notice: { kind: 'error', text: 'Expired <now>.', code: 'invalid_token', signInAgain: true } });
    assert.match(element(expired, 'error') ?? '', /^Expired &lt;now&gt;\. <small>\(<code>invalid_token<\/code>\)<\/small>$/, `#error, saw ${expired}`);
    assert.match(expired, /<a id="sign-in-again" class="button" href="\/login">Sign in again<\/a>/, `#sign-in-again, saw ${expired}`);
  });
});

describe('profilesOf', () => {
  test('keeps the objects of a list and drops everything else', () => {
    const kept = profilesOf({ profiles: [{ id: 'a' }, null, 'b', ['c'], 3, { id: 'd' }] });
    assert.deepEqual(kept, [{ id: 'a' }, { id: 'd' }], `saw ${JSON.stringify(kept)}`);
  });
});

describe('the error page', () => {
  test('#error holds the message, the code and the detail, escaped; #sign-in goes to /login', () => {
    const html = errorPage({ portalName: 'Demo portal', title: 'Sign-in <failed>', message: 'Said <no>.', code: 'login_required', detail: '"x" & y' });
    const error = element(html, 'error');
    assert.match(error ?? '', /<p>Said &lt;no&gt;\.<\/p>/, `the message, saw ${html}`);
    assert.match(error ?? '', /<code class="error-code">login_required<\/code>/, `the code, saw ${html}`);
    assert.match(error ?? '', /&quot;x&quot; &amp; y/, `the detail, saw ${html}`);
    assert.match(html, /<title>Sign-in &lt;failed&gt; — Demo portal<\/title>/, `the title, saw ${html}`);
    assert.match(html, /<a id="sign-in" class="button" href="\/login">Sign in<\/a>/, `#sign-in, saw ${html}`);
  });

  test('signIn: false leaves the Sign in button out', () => {
    const html = errorPage({ portalName: 'Demo portal', title: 'Not found', message: 'No.', signIn: false });
    assert.equal(element(html, 'sign-in'), undefined, `no #sign-in, saw ${html}`);
  });
});

describe('the Content-Security-Policy', () => {
  test("allows nothing but the page's own inline style, and forms to the portal and the issuer's origin", () => {
    const csp = contentSecurityPolicy(new URL('http://127.0.0.1:3000/'));
    const style = homePage(base).match(/<style>([\s\S]*?)<\/style>/)[1];
    const hash = createHash('sha256').update(style).digest('base64');
    assert.equal(csp, `default-src 'none'; style-src 'sha256-${hash}'; form-action 'self' http://127.0.0.1:3000; frame-ancestors 'none'; base-uri 'none'`, `saw ${csp}`);
  });
});
