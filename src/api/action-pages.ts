import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { CountersignError } from '../domain/errors.ts';
import type { Instance } from '../domain/types.ts';
import { escapeHtml } from '../shared/html.ts';
import { verifyAction, type ActionClaim } from '../security/action-links.ts';
import { principalFor, type Principal } from '../security/principal.ts';
import type { Services } from '../service/services.ts';
import type { WorkflowService } from '../service/workflow.ts';

export const ACTION_PATH = '/Countersign/Act';


/**
 * One-click approve/deny pages. GET shows what is about to be decided and asks for confirmation
 * (mail scanners that follow links must not approve anything); POST records the signal as the
 * approver the link was made for, through the same path as the API.
 */
export const actionPages = (s: Services, wf: WorkflowService, secret: string): FastifyPluginAsync => async (app) => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.get<{ Params: { token: string } }>(`${ACTION_PATH}/:token`, async (req, reply) => {
    const checked = await check(req.params.token);
    if ('page' in checked) return send(reply, checked.status, checked.page);
    const { claim, instance } = checked;
    const verb = claim.approve ? 'Approve' : 'Deny';
    return send(
      reply,
      200,
      page(
        `${verb} this request?`,
        `${describe(instance, claim)}
        <form method="post">
          <label for="comment">Comment (optional, at most 500 characters)</label>
          <textarea id="comment" name="comment" maxlength="500" rows="4"></textarea>
          <button type="submit" class="${claim.approve ? 'approve' : 'deny'}">${verb}</button>
        </form>`,
      ),
    );
  });

  app.post<{ Params: { token: string }; Body: Record<string, string> | undefined }>(`${ACTION_PATH}/:token`, async (req, reply) => {
    const checked = await check(req.params.token);
    if ('page' in checked) return send(reply, checked.status, checked.page);
    const { claim, instance, principal } = checked;
    const comment = typeof req.body?.comment === 'string' ? req.body.comment : '';
    try {
      await wf.signal(instance.id, `${claim.step}.ApprovalStatus`, { Approved: claim.approve, Comment: comment }, principal);
    } catch (e) {
      if (e instanceof CountersignError) return send(reply, e.status, page('Not recorded', `<p>${escapeHtml(e.message)}</p>`));
      throw e;
    }
    const after = await wf.getInstance(instance.id);
    return send(reply, 200, page(claim.approve ? 'Approved' : 'Denied', `<p>Your decision on <strong>${escapeHtml(instance.title ?? instance.id)}</strong> is recorded.</p><p>${escapeHtml(after.statusMessage ?? '')}</p>`));
  });

  /** Verifies the link and that it still applies: same step waiting, identity not yet decided. */
  async function check(token: string): Promise<{ claim: ActionClaim; instance: Instance; principal: Principal } | { status: number; page: string }> {
    const v = verifyAction(token, secret);
    if (!v.ok) {
      const why = v.reason === 'expired' ? 'This link has expired.' : 'This link is not valid.';
      return { status: v.reason === 'expired' ? 410 : 400, page: page('Link not usable', `<p>${why} Open the request in the portal instead.</p>`) };
    }
    const { claim } = v;
    const instance = await s.store.getInstance(claim.instanceId);
    const identity = await s.store.getIdentity(claim.identityId);
    if (!instance || !identity) return { status: 404, page: page('Request not found', '<p>The request or your account no longer exists.</p>') };
    const mine = instance.signals.find((x) => x.identityId === identity.id && x.step === claim.step);
    if (mine) {
      const said = mine.data.Approved === true ? 'approved' : 'denied';
      return { status: 409, page: page('Already recorded', `<p>You already ${said} this request; a link works once.</p>`) };
    }
    if (instance.status !== 'Suspended' || instance.currentStep !== claim.step)
      return { status: 410, page: page('No longer waiting', `<p>This request is no longer waiting at this step: ${escapeHtml(instance.statusMessage ?? instance.status)}</p>`) };
    return { claim, instance, principal: await principalFor(s.store, identity) };
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
.approve{background:#1b6e20}.deny{background:#b3261e}button:focus{outline:3px solid #1a4fd6;outline-offset:2px}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function send(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    // The token is in the URL: never send it on as a Referer.
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .send(html);
}

