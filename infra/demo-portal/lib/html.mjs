// The portal's pages. Every value shown is escaped: names, emails and
// organisations come from identity providers and customer records that the
// portal does not control. Pages are built with template literals only, never
// String.replace on placeholders, so text like `{operator}` or `$&` in a name
// is shown as it is.

import { createHash } from 'node:crypto';

export function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{font-size:1.1rem;margin-top:1.5rem}
.button,button{display:inline-block;font:inherit;font-weight:600;padding:.55rem 1rem;border-radius:4px;border:1px solid #0b5cad;background:#0b5cad;color:#fff;text-decoration:none;cursor:pointer}
.secondary{background:#fff;color:#0b5cad}form{display:inline-block;margin:1rem .5rem 0 0}
ul{padding-left:1.2rem}small{color:#59636e}.notice{color:#1a7f37}.error{color:#b42318;font-weight:600}code{font-size:.9em}.error small{font-weight:400}`;

// The one inline style, allowed by its hash: the CSP needs no 'unsafe-inline'.
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

// Nothing loads but the inline style. Forms post to the portal itself; the
// issuer's origin is there because POST /logout answers with a redirect to
// profile-link's end_session_endpoint, and browsers apply form-action to the
// redirects that follow a form submission too.
export function contentSecurityPolicy(issuerUrl) {
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    `form-action 'self' ${new URL(issuerUrl).origin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function layout(portalName, title, body) {
  const fullTitle = title ? `${title} — ${portalName}` : portalName;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(fullTitle)}</title>
<style>${STYLE}</style>
</head><body><main>
${body}
</main></body></html>`;
}

const csrfField = (csrf) => `<input type="hidden" name="csrf" value="${escape(csrf)}">`;

// Profiles as the OP sent them; anything that is not an object is left out
// rather than trusted to have the right shape.
export function profilesOf(claims) {
  const list = Array.isArray(claims?.profiles) ? claims.profiles : [];
  return list.filter((p) => p && typeof p === 'object' && !Array.isArray(p));
}

function profileList(profiles, issuer) {
  if (profiles.length === 0) {
    return `<p id="no-profiles">You may act for: no customer profiles yet. You link them at
<a href="${escape(issuer)}">profile-link</a>, with the email address the company has for you; then refresh here.</p>`;
  }
  const items = profiles.map((p) => `<li data-profile-id="${escape(p.id)}"><span class="profile-name">${escape(p.name)}</span>, `
    + `<span class="profile-organization">${escape(p.organization)}</span> <small class="profile-id">${escape(p.id)}</small></li>`);
  return `<h2>You may act for:</h2>
<ul id="profiles">
${items.join('\n')}
</ul>`;
}

function who(claims) {
  const name = claims.name ? `<strong>${escape(claims.name)}</strong>` : 'an account without a name';
  // profile-link passes on the provider's email claim without proving it.
  const email = claims.email ? ` (${escape(claims.email)}, not verified by profile-link)` : '';
  const provider = escape(claims.idp_name || claims.idp || 'an unnamed provider');
  return `<p id="who">Signed in as ${name}${email} through <span id="provider">${provider}</span>.</p>`;
}

// A one-time message after a POST (refresh): { kind: 'ok'|'error', text, code?, signInAgain? }.
function noticeHtml(notice) {
  if (!notice) return '';
  if (notice.kind === 'ok') return `<p id="notice" class="notice" role="status">${escape(notice.text)}</p>`;
  const code = notice.code ? ` <small>(<code>${escape(notice.code)}</code>)</small>` : '';
  const again = notice.signInAgain ? ` <a id="sign-in-again" class="button" href="/login">Sign in again</a>` : '';
  return `<p id="error" class="error" role="alert">${escape(notice.text)}${code}</p>${again ? `<p>${again}</p>` : ''}`;
}

// GET /: signed out when `user` is undefined.
export function homePage({ portalName, issuer, user, csrf, notice }) {
  if (!user) {
    return layout(portalName, '', `<h1>${escape(portalName)}</h1>
<p>A demo of a company's customer portal: you sign in through profile-link, which tells the portal which customer profiles you may act for.</p>
<p><a id="sign-in" class="button" href="/login">Sign in with profile-link</a></p>`);
  }
  return layout(portalName, '', `<h1>${escape(portalName)}</h1>
${who(user.claims)}
${noticeHtml(notice)}
${profileList(profilesOf(user.claims), issuer)}
<form method="post" action="/refresh">${csrfField(csrf)}<button id="refresh" type="submit" class="secondary">Refresh from profile-link</button></form>
<form method="post" action="/logout">${csrfField(csrf)}<button id="sign-out" type="submit">Sign out</button></form>`);
}

// Any failure a person can meet: what happened in plain words, the OAuth or
// openid-client error code for whoever debugs it, and a way on.
export function errorPage({ portalName, title, message, code, detail, signIn = true }) {
  return layout(portalName, title, `<h1>${escape(title)}</h1>
<div id="error" class="error" role="alert"><p>${escape(message)}</p>
${code ? `<p><small>Error code: <code class="error-code">${escape(code)}</code></small></p>` : ''}
${detail ? `<p><small class="error-detail">${escape(detail)}</small></p>` : ''}</div>
${signIn ? '<p><a id="sign-in" class="button" href="/login">Sign in</a> <a class="button secondary" href="/">Home</a></p>' : '<p><a class="button secondary" href="/">Home</a></p>'}`);
}
