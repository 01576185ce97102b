import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { CountersignError } from '../domain/errors.ts';
import { escapeHtml } from '../domain/html.ts';
import type { OneClickAction, OneClickChoice } from '../domain/step-type.ts';
import type { Instance, JsonObject } from '../domain/types.ts';
import { ACTION_PATH, verifyAction, type ActionClaim } from '../security/action-links.ts';
import { principalFor, type Principal } from '../security/principal.ts';
import type { Services } from '../service/services.ts';
import type { WorkflowService } from '../service/workflow.ts';

/**
 * One-click action pages (e.g. approve/deny). The step type declares the actions
 * (oneClickActions); a link names one. GET shows what is about to be decided and asks for
 * confirmation (mail scanners that follow links must not act), with the fields the action's form
 * asks at this step (comment optional or required, choice lists); POST checks the choices against
 * what was offered and records the action's signal as the person the link was made for, through
 * the same path as the API (whose checkSignal has the final word).
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
      const { claim, instance, action, config } = checked;
      return send(reply, 200, page(`${action.label} this request?`, `${describe(instance, claim)}${confirmForm(action, config)}`));
    });

    app.post<{ Params: { token: string }; Body: Record<string, string> | undefined }>(`${ACTION_PATH}/:token`, async (req, reply) => {
      const checked = await check(req.params.token);
      if ('page' in checked) return send(reply, checked.status, checked.page);
      const { claim, instance, principal, action, config } = checked;
      const read = readForm(action, config, req.body);
      if (!read.ok) {
        const again = read.retry ? `${describe(instance, claim)}${confirmForm(action, config, read.values)}` : '';
        return send(reply, 400, page('Not recorded', `<p role="alert">${escapeHtml(read.message)}</p>${again}`));
      }
      try {
        await wf.signal(instance.id, `${claim.step}.${action.signal}`, read.data, principal);
      } catch (e) {
        if (!(e instanceof CountersignError)) throw e;
        // The step's own check refused the input (e.g. a required comment): nothing is recorded
        // and the link still works, so the form is shown again with what was entered.
        const again = e.errorName === 'SignalInvalid' ? `${describe(instance, claim)}${confirmForm(action, config, read.values)}` : '';
        return send(reply, e.status, page('Not recorded', `<p role="alert">${escapeHtml(e.message)}</p>${again}`));
      }
      const after = await wf.getInstance(instance.id);
      return send(
        reply,
        200,
        page(action.done, `<p>Your decision on <strong>${escapeHtml(instance.title ?? instance.id)}</strong> is recorded.</p><p>${escapeHtml(after.statusMessage ?? '')}</p>`),
      );
    });

    /** Verifies the link and that it still applies: same step waiting, identity not yet decided. */
    async function check(
      token: string,
    ): Promise<{ claim: ActionClaim; instance: Instance; principal: Principal; action: OneClickAction; config: JsonObject } | { status: number; page: string }> {
      const v = verifyAction(token, secret);
      const unusable = (why: string) => page('Link not usable', `<p>${why} Open the request in the portal instead.</p>`);
      if (!v.ok) return { status: v.reason === 'expired' ? 410 : 400, page: unusable(v.reason === 'expired' ? 'This link has expired.' : 'This link is not valid.') };
      const { claim } = v;
      const instance = await s.store.getInstance(claim.instanceId);
      const identity = await s.store.getIdentity(claim.identityId);
      if (!instance || !identity) return { status: 404, page: page('Request not found', '<p>The request or your account no longer exists.</p>') };
      const { actions, config } = await actionsOf(instance, claim.step);
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
      return { claim, instance, action, config, principal: await principalFor(s.store, identity) };
    }

    /** The one-click actions the type of the instance's step declares (none if the step is gone), and the step's configuration. */
    async function actionsOf(instance: Instance, stepName: string): Promise<{ actions: Record<string, OneClickAction>; config: JsonObject }> {
      const version = await wf.version(instance.definitionId, instance.definitionVersion);
      const step = version.steps.find((x) => x.uniqueName === stepName);
      return { actions: (step && s.registry.get(step.extensionName)?.oneClickActions) || {}, config: step?.config ?? {} };
    }
  };

const COMMENT_MAX = 500;

/** What the action's form asks at this step: its comment (only with a commentField) and choices. */
function formOf(action: OneClickAction, config: JsonObject): { comment: 'optional' | 'required' | null; choices: OneClickChoice[] } {
  const form = action.form?.(config) ?? {};
  return { comment: action.commentField ? (form.comment ?? 'optional') : null, choices: form.choices ?? [] };
}

/** Form field names: the comment, and one per choice (prefixed, so no choice can be the comment). */
const COMMENT = 'comment';
const choiceName = (c: OneClickChoice) => `choice.${c.field}`;

/** The confirmation form: comment, choices and the button; `values` refills it after a refusal. */
function confirmForm(action: OneClickAction, config: JsonObject, values: Record<string, string> = {}): string {
  const { comment, choices } = formOf(action, config);
  const selects = choices
    .map((c, n) => {
      const name = choiceName(c);
      const options = [`<option value="">${c.required ? 'Choose one' : 'None'}</option>`]
        .concat(c.options.map((o) => `<option value="${escapeHtml(o)}"${values[name] === o ? ' selected' : ''}>${escapeHtml(o)}</option>`))
        .join('');
      return `<label for="choice-${n}">${escapeHtml(c.label)} (${c.required ? 'required' : 'optional'})</label>
          <select id="choice-${n}" name="${escapeHtml(name)}"${c.required ? ' required aria-required="true"' : ''}>${options}</select>`;
    })
    .join('');
  const text = comment
    ? `<label for="comment">Comment (${comment}, at most ${COMMENT_MAX} characters)</label>
          <textarea id="comment" name="${COMMENT}" maxlength="${COMMENT_MAX}" rows="4"${comment === 'required' ? ' required aria-required="true"' : ''}>${escapeHtml(values[COMMENT] ?? '')}</textarea>`
    : '';
  return `
        <form method="post">
          ${selects}
          ${text}
          <button type="submit" class="${action.tone ?? 'neutral'}">${escapeHtml(action.label)}</button>
        </form>`;
}

type ReadForm =
  | { ok: true; data: JsonObject; values: Record<string, string> }
  /** retry: the person may correct it (show the form again); false for a value the form never offered. */
  | { ok: false; message: string; retry: boolean; values: Record<string, string> };

/**
 * The action's Data from the posted form: its fixed data, the comment and each choice. A choice
 * must be one the form offered (a forged value is refused here, before anything is sent); the
 * step type's checkSignal then has the final word.
 */
function readForm(action: OneClickAction, config: JsonObject, body: Record<string, string> | undefined): ReadForm {
  const field = (name: string) => (body && Object.hasOwn(body, name) && typeof body[name] === 'string' ? body[name] : '');
  const { comment, choices } = formOf(action, config);
  const values: Record<string, string> = {};
  const data: JsonObject = {};
  if (comment && action.commentField) {
    values[COMMENT] = field(COMMENT);
    data[action.commentField] = values[COMMENT];
  }
  for (const c of choices) {
    const value = field(choiceName(c));
    if (value === '') {
      if (c.required) return { ok: false, message: `${c.label} is required: choose one of ${c.options.join(', ')}.`, retry: true, values };
      continue;
    }
    if (!c.options.includes(value)) return { ok: false, message: `${c.label} must be one of: ${c.options.join(', ')}.`, retry: false, values: {} };
    values[choiceName(c)] = value;
    data[c.field] = value;
  }
  // The action's own data last: no form field changes what the action is.
  return { ok: true, data: { ...data, ...action.data }, values };
}

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
