// The portal's configuration, parsed once from the environment at start-up:
// a bad or missing variable stops it with a message that names the variable.

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class ConfigError extends Error {}

export function parseConfig(env) {
  const port = parsePort(env.DEMO_PORTAL_PORT ?? '3100');
  const issuer = parseIssuer(env.DEMO_PORTAL_ISSUER);
  const origin = `http://127.0.0.1:${port}`;
  return Object.freeze({
    port,
    issuer: issuer.text,
    issuerUrl: issuer.url,
    // openid-client refuses plain http unless told otherwise; that is allowed
    // only for a profile-link on this machine (scripts/dev), never elsewhere.
    allowInsecureRequests: issuer.url.protocol === 'http:',
    clientId: nonEmpty(env, 'DEMO_PORTAL_CLIENT_ID', 'demo-portal'),
    clientSecret: nonEmpty(env, 'DEMO_PORTAL_CLIENT_SECRET', 'demo-portal-secret'),
    portalName: nonEmpty(env, 'DEMO_PORTAL_NAME', 'Demo portal'),
    origin,
    redirectUri: `${origin}/callback`,
    postLogoutRedirectUri: `${origin}/`,
  });
}

function parsePort(text) {
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`DEMO_PORTAL_PORT must be a port number from 1 to 65535, not ${JSON.stringify(text)}`);
  }
  return port;
}

function parseIssuer(text) {
  if (!text) {
    throw new ConfigError("DEMO_PORTAL_ISSUER is required: profile-link's issuer, its base URL (for example http://127.0.0.1:3000)");
  }
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`DEMO_PORTAL_ISSUER is not a URL: ${JSON.stringify(text)}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`DEMO_PORTAL_ISSUER must be a plain https URL without query, fragment or credentials, not ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new ConfigError(`DEMO_PORTAL_ISSUER must be https (plain http only on 127.0.0.1 or localhost), not ${JSON.stringify(text)}`);
  }
  return { text, url };
}

function nonEmpty(env, name, fallback) {
  const value = env[name] ?? fallback;
  if (value === '') throw new ConfigError(`${name} must not be empty (unset, it is ${JSON.stringify(fallback)})`);
  return value;
}
