// Pages and forms shared by every dev provider (the root one and the imitations).

export function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}input{width:100%;font:inherit;padding:.5rem;border:1px solid #8c959f;border-radius:4px}
button{font:inherit;font-weight:600;margin-top:1rem;padding:.55rem 1rem;border-radius:4px;border:1px solid #1a7f37;background:#1a7f37;color:#fff}
button.secondary{background:#fff;color:#1a7f37}.error{color:#b42318;font-weight:600}.hint{color:#59636e;font-size:.9rem}</style>
</head><body><main>${body}</main></body></html>`;
}

// The username/password form and the Cancel button of a login page, posting to
// `<interactionPath>/login` and `<interactionPath>/abort`.
export function loginForms(interactionPath, login, error) {
  return `<form method="post" action="${escape(`${interactionPath}/login`)}" autocomplete="off">
<label for="login">Username</label>
<input id="login" name="login" value="${escape(login)}" required autofocus${error ? ' aria-describedby="error"' : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${escape(`${interactionPath}/abort`)}"><button type="submit" class="secondary">Cancel</button></form>`;
}

export async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

export function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

export function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value, null, 2));
}

// Hands a request to an oidc-provider instance mounted at `mountPath`:
// oidc-provider derives its endpoint URLs from req.originalUrl minus req.url.
export function mount(handler, req, res, mountPath, rest) {
  req.originalUrl = mountPath + rest;
  req.url = rest;
  return handler(req, res);
}
