// One oidc-provider instance that imitates a real provider (Entra ID tenant,
// Google), mounted under a path of the one dev server. What differs from the
// root dev provider is configured by the caller; what is shared lives here:
// the login form, `select_account` as an account chooser, `login_hint` naming
// another account. (A client registered for client_secret_basic may also use
// client_secret_post: oidc-provider 9 accepts either for a client with a secret,
// as Entra and Google do.)

import Provider, { interactionPolicy } from 'oidc-provider';
import { abortInteraction, grantConsent, loadFirstPartyGrant, serveInteraction } from './first-party.mjs';
import { escape, loginForms, mount, page, readForm, send } from './html.mjs';

const { Check, Prompt, base: basePolicy } = interactionPolicy;

// users: [{ accountId, logins: ['pat', 'pat@contoso.example'], claims(client) }]
export function createImitation({
  issuer, mountPath, routes, clients, users, claims, clientAuthMethods, cookiePrefix,
  jwks, imitates, loginTitle, loginHint, discoveryEdit = () => {},
}) {
  const byAccount = new Map(users.map((u) => [u.accountId, u]));
  const byLogin = new Map(users.flatMap((u) => u.logins.map((l) => [l.toLowerCase(), u])));
  const findUser = (login) => byLogin.get(String(login || '').trim().toLowerCase());

  const policy = basePolicy();
  // login_hint naming someone other than the signed-in account asks who signs
  // in, as Entra and Google do, instead of silently reusing the session.
  policy.get('login').checks.add(new Check('login_hint_other_account', 'login_hint names another account', (ctx) => {
    const hint = ctx.oidc.params.login_hint;
    const current = ctx.oidc.session.accountId;
    if (!hint || !current || ctx.oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
    return findUser(hint)?.accountId === current ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
  }), 0);
  // prompt=select_account: an account chooser; picking the signed-in account
  // continues without a password (so auth_time stays as it was).
  policy.add(new Prompt({ name: 'select_account', requestable: true }), 0);
  // oidc-provider asks a native (loopback) client's user to interact every
  // time, which breaks prompt=none; Entra and Google sign a known session in
  // silently for any client.
  policy.get('consent').checks.remove('native_client_prompt');

  const interactionBase = `${mountPath}/interaction`;
  const provider = new Provider(issuer, {
    clients,
    jwks,
    clientAuthMethods,
    cookies: {
      keys: ['dev-only-cookie-key-not-secret'],
      names: { session: `${cookiePrefix}_session`, interaction: `${cookiePrefix}_interaction`, resume: `${cookiePrefix}_resume` },
    },
    routes,
    pkce: { required: () => false },
    conformIdTokenClaims: false,
    claims,
    features: { devInteractions: { enabled: false } },
    interactions: { policy, url: (ctx, interaction) => `${interactionBase}/${interaction.uid}` },
    async findAccount(ctx, accountId) {
      const user = byAccount.get(accountId);
      if (!user) return undefined;
      return { accountId, async claims() { return user.claims(ctx.oidc.client); } };
    },
    loadExistingGrant: loadFirstPartyGrant,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page(`Sign-in error — ${imitates}`, `<h1>Sign-in error</h1><p>${escape(out.error)}: ${escape(out.error_description || '')}</p><p class="hint">Dev imitation of ${escape(imitates)}.</p>`);
    },
  });
  // Neither Entra nor (by its documentation) Google sends RFC 9207's `iss`
  // with the authorization response: the relying party must tell its
  // providers apart by callback, so the imitations send none either.
  provider.use(async (ctx, next) => {
    await next();
    const location = ctx.response.get('location');
    if (location && location.includes('iss=')) {
      const url = new URL(location, ctx.href);
      for (const params of [url.searchParams, new URLSearchParams(url.hash.slice(1))]) {
        if (params.get('iss') === issuer) {
          params.delete('iss');
          if (params !== url.searchParams) url.hash = params.toString();
          ctx.response.set('location', url.href);
        }
      }
    }
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200 && ctx.body) {
      delete ctx.body.authorization_response_iss_parameter_supported;
      discoveryEdit(ctx.body);
    }
  });
  const handler = provider.callback();

  function loginPage(uid, clientName, login, error, current) {
    const chooser = current
      ? `<form method="post" action="${escape(`${interactionBase}/${uid}/continue`)}"><p>Signed in as <strong>${escape(current.logins.at(-1))}</strong>.</p><button type="submit" name="account" value="current">Continue as ${escape(current.logins.at(-1))}</button></form><p>Or use another account:</p>`
      : '';
    return page(`${loginTitle} — sign in`, `
<h1>${escape(loginTitle)} — sign in</h1>
<p class="hint">This page imitates <strong>${escape(imitates)}</strong>. Local development only.</p>
<p>Sign in to continue to <strong>${escape(clientName)}</strong>.</p>
${error ? `<p class="error" id="error" role="alert">${escape(error)}</p>` : ''}
${chooser}
${loginForms(`${interactionBase}/${uid}`, login, error)}
<p class="hint">${loginHint}</p>`);
  }

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, page('Sign-in error', '<p>This sign-in page is out of date. Start again.</p>'));
    const client = await provider.Client.find(details.params.client_id);
    const clientName = client?.clientName || details.params.client_id;
    const current = details.session?.accountId ? byAccount.get(details.session.accountId) : undefined;

    if (req.method === 'GET') {
      if (details.prompt.name === 'consent') return grantConsent(provider, req, res, details);
      const chooser = details.prompt.name === 'select_account' ? current : undefined;
      return send(res, 200, loginPage(uid, clientName, details.params.login_hint || '', null, chooser));
    }
    if (action === 'abort') return abortInteraction(provider, req, res);
    if (action === 'continue') {
      if (details.prompt.name !== 'select_account' || !current) {
        return send(res, 400, page('Sign-in error', '<p>There is no account to continue with. Start again.</p>'));
      }
      return provider.interactionFinished(req, res, { select_account: {} }, { mergeWithLastSubmission: true });
    }
    const form = await readForm(req);
    const login = (form.get('login') || '').trim();
    const user = findUser(login);
    if (!user || form.get('password') !== 'demo') {
      return send(res, 401, loginPage(uid, clientName, login, 'Unknown username or wrong password.', details.prompt.name === 'select_account' ? current : undefined));
    }
    return provider.interactionFinished(req, res, { select_account: {}, login: { accountId: user.accountId } }, { mergeWithLastSubmission: false });
  }

  return {
    provider,
    findUser,
    interactionBase,
    // Serves a request whose path, relative to this instance's mount, is `rest`.
    async handle(req, res, rest, mountAs = mountPath) {
      if (await serveInteraction(req, res, mountAs + rest, interactionBase, ['login', 'abort', 'continue'], interaction)) return undefined;
      return mount(handler, req, res, mountAs, rest);
    },
  };
}
