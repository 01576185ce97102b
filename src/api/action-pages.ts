import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { CountersignError } from '../domain/errors.ts';
import { escapeHtml } from '../domain/html.ts';
import type { OneClickAction } from '../domain/step-type.ts';
import type { Instance, JsonObject } from '../domain/types.ts';
import { ACTION_PATH, verifyAction, type ActionClaim } from '../security/action-links.ts';
import { principalFor, type Principal } from '../security/principal.ts';
import type { Services } from '../service/services.ts';
import type { WorkflowService } from '../service/workflow.ts';

/**
 * One-click action pages (e.g. approve/deny). The step type declares the actions
 * (oneClickActions); a link names one. GET shows what is about to be decided and asks for
 * confirmation (mail scanners that follow links must not act); POST records the action's signal
 * as the person the link was made for, through the same path as the API.
 */
export const actionPages =
  (s: Services, wf: WorkflowService, secret: string): FastifyPluginAsync =>
  async (app) => {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.get<{ Params: { token: string } }>(`${ACTION_PATH}/:token`, async (req, reply) => {
      const checked = await check(req.params.token);
      if ('page' in checked) return send(reply, checked.status, checked.page);
      const { claim, instance, action } = checked;
      const comment = action.commentField
        ? `<label for="comment">Comment (optional, at most 500 characters)</label>
          <textarea id="comment" name="comment" maxlength="500" rows="4"></textarea>`
        : '';
      return send(
        reply,
        200,
        page(
          `${action.label} this request?`,
          `${describe(instance, claim)}
        <form method="post">
          ${comment}
          <button type="submit" class="${action.tone ?? 'neutral'}">${escapeHtml(action.label)}</button>
        </form>`,
        ),
      );
    });

    app.post<{ Params: { token: string }; Body: Record<string, string> | undefined }>(`${ACTION_PATH}/:token`, async (req, reply) => {
      const checked = await check(req.params.token);
      if ('page' in checked) return send(reply, checked.status, checked.page);
      const { claim, instance, principal, action } = checked;
      const comment = typeof req.body?.comment === 'string' ? req.body.comment : '';
      const data: JsonObject = action.commentField ? { ...action.data, [action.commentField]: comment } : { ...action.data };
      try {
        await wf.signal(instance.id, `${claim.step}.${action.signal}`, data, principal);
      } catch (e) {
        if (e instanceof CountersignError) return send(reply, e.status, page('Not recorded', `<p>${escapeHtml(e.message)}</p>`));
        throw e;
      }
      const after = await wf.getInstance(instance.id);
      return send(
        reply,
        200,
        page(action.done, `<p>Your decision on <strong>${escapeHtml(instance.title ?? instance.id)}</strong> is recorded.</p><p>${escapeHtml(after.statusMessage ?? '')}</p>`),
      );
    });

    /** Verifies the link and that it still applies: same step waiting, identity not yet decided. */
    async function check(token: string): Promise<{ claim: ActionClaim; instance: Instance; principal: Principal; action: OneClickAction } | { status: number; page: string }> {
      const v = verifyAction(token, secret);
      const unusable = (why: string) => page('Link not usable', `<p>${why} Open the request in the portal instead.</p>`);
      if (!v.ok) return { status: v.reason === 'expired' ? 410 : 400, page: unusable(v.reason === 'expired' ? 'This link has expired.' : 'This link is not valid.') };
      const { claim } = v;
      const instance = await s.store.getInstance(claim.instanceId);
      const identity = await s.store.getIdentity(claim.identityId);
      if (!instance || !identity) return { status: 404, page: page('Request not found', '<p>The request or your account no longer exists.</p>') };
      const actions = await actionsOf(instance, claim.step);
      const action = Object.hasOwn(actions, claim.action) ? actions[claim.action] : undefined;
      if (!action) return { status: 400, page: unusable('This link is not valid.') };
      const mine = instance.signals.find((x) => x.identityId === identity.id && x.step === claim.step);
      if (mine) {
        const taken = Object.values(actions).find((a) => a.signal === mine.signal && Object.entries(a.data).every(([k, val]) => mine.data[k] === val));
        const said = taken ? taken.done.toLowerCase() : 'acted on';
        return { status: 409, page: page('Already recorded', `<p>You already ${escapeHtml(said)} this request; a link works once.</p>`) };
      }
      if (instance.status !== 'Suspended' || instance.currentStep !== claim.step)
        return { status: 410, page: page('No longer waiting', `<p>This request is no longer waiting at this step: ${escapeHtml(instance.statusMessage ?? instance.status)}</p>`) };
      return { claim, instance, action, principal: await principalFor(s.store, identity) };
    }

    /** The one-click actions the type of the instance's step declares (none if the step is gone). */
    async function actionsOf(instance: Instance, stepName: string): Promise<Record<string, OneClickAction>> {
      const version = await wf.version(instance.definitionId, instance.definitionVersion);
      const step = version.steps.find((x) => x.uniqueName === stepName);
      return (step && s.registry.get(step.extensionName)?.oneClickActions) || {};
    }
  };

function describe(i: Instance, claim: ActionClaim): string {
  const rows = Object.entries(i.initialData)
    .slice(0, 20)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`)
    .join('');
  return `<p><strong>${escapeHtml(i.title ?? i.id)}</strong></p>
    <p>Step: ${escapeHtml(i.currentStepDisplayName ?? claim.step)} &middot; Requested by ${escapeHtml(i.initiatorName ?? 'unknown')} &middot; Reference ${i.referenceId}</p>
    <p>${escapeHtml(i.statusMessage ?? '')}</p>
    ${rows ? `<table>${rows}</table>` : ''}`;
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Countersign</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;background:#fff}
th{text-align:left;padding-right:1rem;vertical-align:top}td{word-break:break-all}textarea{width:100%;font:inherit}label{display:block;margin-top:1rem}
button{margin-top:1rem;font:inherit;padding:.5rem 1.5rem;border:0;border-radius:4px;color:#fff;cursor:pointer}
.positive{background:#1b6e20}.negative{background:#b3261e}.neutral{background:#1a4fd6}button:focus{outline:3px solid #1a4fd6;outline-offset:2px}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function send(reply: FastifyReply, status: number, html: string): FastifyReply {
  return (
    reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      // The token is in the URL: never send it on as a Referer.
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
      .send(html)
  );
}
