// What the Node test harnesses under infra/ have in common, written once: a
// free loopback port, a Node server run as a child process and waited for, a
// browser reduced to a cookie jar and hand-followed redirects, and the forms
// and elements of an HTML page. Used by the dev providers' relying party
// (infra/dev-idp/testing) and the demo portal's harness
// (infra/demo-portal/testing), and by their tests, by relative path.
// Node's built-in modules only: each package has its own node_modules, and
// this file, outside both, can see neither.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// `script` run by this Node as a child process, with `env` over this process's
// environment (where the server reads `port` from is the caller's to say),
// until http://127.0.0.1:`port`/healthz answers. `name` names the server in
// the errors, which carry all it printed; one that does not answer within
// 10 s is stopped. Returns { base, output(), stop() }.
export async function startNodeServer(script, { name, port, env = {} }) {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    return child.kill('SIGTERM');
  });
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    if (i === 100) {
      await stop();
      throw new Error(`${name} did not answer /healthz within 10 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, output: () => output, stop };
}

// A cookie jar and manual redirects: what a browser does, no more. Cookies by
// host (browsers do not tell ports apart) and path.
export class Browser {
  constructor() { this.cookies = []; }

  cookieFor(url, name) {
    return this.cookies.find((c) => c.host === url.hostname && c.name === name)?.value;
  }

  // One request, no redirect followed: { status, location, headers, text, url }.
  async request(url, { method = 'GET', form, headers = {} } = {}) {
    const target = new URL(url);
    const cookie = this.cookies.filter((c) => c.host === target.hostname && target.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`).join('; ');
    const response = await fetch(target, {
      method,
      redirect: 'manual',
      headers: { ...headers, ...(cookie && { cookie }), ...(form && { 'content-type': 'application/x-www-form-urlencoded' }) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const path = attributes.find((a) => /^path=/i.test(a))?.slice(5) || '/';
      const gone = attributes.some((a) => /^max-age=(0|-)/i.test(a) || (/^expires=/i.test(a) && new Date(a.slice(8)) < new Date()));
      this.cookies = this.cookies.filter((c) => !(c.host === target.hostname && c.name === name && c.path === path));
      if (!gone) this.cookies.push({ host: target.hostname, name, value, path });
    }
    return { status: response.status, location: response.headers.get('location'), headers: response.headers, text: await response.text(), url: target.href };
  }

  // Follows redirects from `url` to the first page that is not one; `visited` lists every URL asked for.
  async follow(url, options) {
    const visited = [url];
    let response = await this.request(url, options);
    for (let hops = 0; response.status >= 300 && response.status < 400 && response.location; hops += 1) {
      if (hops === 20) throw new Error(`more than 20 redirects: ${visited.join(' → ')}`);
      const next = new URL(response.location, response.url).href;
      visited.push(next);
      response = await this.request(next);
    }
    return { ...response, visited };
  }
}

export const unescapeHtml = (s) => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]);

// The forms on a page: [{ action, fields }], fields the inputs' and buttons'
// name → value (a plain object: the last of a name wins).
export function forms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, attributes, inner]) => ({
    action: unescapeHtml(attributes.match(/action="([^"]*)"/)?.[1] || ''),
    fields: Object.fromEntries([...inner.matchAll(/<(?:input|button)\b([^>]*)>/g)]
      .map(([, a]) => [a.match(/name="([^"]*)"/)?.[1], unescapeHtml(a.match(/value="([^"]*)"/)?.[1] || '')])
      .filter(([name]) => name)),
  }));
}

// What stands inside the element with `id`, up to its closing tag (no nesting of the same tag).
export function element(html, id) {
  const match = html.match(new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`));
  return match ? match[2] : undefined;
}
