// What every dev provider does the same way for its first-party clients:
// no consent screen, and the interaction pages' common answers.

import { escape, page, send } from './html.mjs';

// No consent screen: the demo clients are first-party.
export async function loadFirstPartyGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) {
    const existing = await ctx.oidc.provider.Grant.find(grantId);
    if (existing) return existing;
  }
  const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
  grant.addOIDCScope('openid email profile');
  await grant.save();
  return grant;
}

export async function grantConsent(provider, req, res, details) {
  const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid email profile');
  return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

export function abortInteraction(provider, req, res) {
  return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
}

// Runs interaction(req, res, uid, action) for `/<uid>` (GET) or `/<uid>/<action>`
// (POST) below `prefix`; returns false when the path is not one of those.
export async function serveInteraction(req, res, path, prefix, actions, interaction) {
  if (!path.startsWith(`${prefix}/`)) return false;
  const match = path.slice(prefix.length).match(new RegExp(`^/([\\w-]+)(?:/(${actions.join('|')}))?$`));
  if (!match) return false;
  const [, uid, action] = match;
  if (!((req.method === 'GET' && !action) || (req.method === 'POST' && action))) return false;
  try {
    await interaction(req, res, uid, action);
  } catch (error) {
    console.error('interaction failed:', error.message);
    send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1><p>${escape(error.message)}. Start the sign-in again.</p>`));
  }
  return true;
}
