import { escapeHtml } from '../../domain/html.ts';
import type { Notification, NotifyContext, NotifyKind, OneClickAction } from '../../domain/step-type.ts';
import { replaceTokens, resolveValue, type TokenScope } from '../../domain/tokens.ts';
import type { Instance, JsonObject, StepDef } from '../../domain/types.ts';
import { recipientsOf } from '../email/email.ts';
import { decisionForm } from './policy.ts';

/*
 * The approval emails a RequireApproval step asks for: the request (to the identities who may act
 * and have not, plus listed recipients), reminders, escalations, timeouts, and the outcome emails.
 * Pure: the runner resolves the people in the roles, adds their personal links and sends.
 */

/** Which parameters each notification reads, and how its subject is marked. */
const TEMPLATES: Record<string, { subject: string; message: string; recipients: string; prefix: string; toActors: boolean }> = {
  request: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'RequestRecipients', prefix: '', toActors: true },
  reminder: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'RequestRecipients', prefix: 'Reminder: ', toActors: true },
  escalation: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'EscalationRecipients', prefix: 'Escalated: ', toActors: true },
  timeout: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'RequestRecipients', prefix: 'Timed out: ', toActors: true },
  approved: { subject: 'ApprovedSubject', message: 'ApprovedMessage', recipients: 'ApprovedRecipients', prefix: '', toActors: false },
  denied: { subject: 'DeniedSubject', message: 'DeniedMessage', recipients: 'DeniedRecipients', prefix: '', toActors: false },
};

/** Kinds that ask for a decision, so their personal copies may carry one-click links. */
const ASKS_FOR_DECISION = new Set<NotifyKind>(['request', 'reminder', 'escalation']);

/** What a one-click link may do: send ApprovalStatus with Approved true or false, asking what the step's policy needs. */
export const approvalActions: Record<string, OneClickAction> = {
  Approve: {
    label: 'Approve',
    done: 'Approved',
    signal: 'ApprovalStatus',
    data: { Approved: true },
    commentField: 'Comment',
    tone: 'positive',
    form: (config) => decisionForm(true, config),
  },
  Deny: {
    label: 'Deny',
    done: 'Denied',
    signal: 'ApprovalStatus',
    data: { Approved: false },
    commentField: 'Comment',
    tone: 'negative',
    form: (config) => decisionForm(false, config),
  },
};

export function approvalNotification(ctx: NotifyContext, kind: NotifyKind): Notification | null {
  const t = Object.hasOwn(TEMPLATES, kind) ? TEMPLATES[kind] : undefined;
  if (!t) return null;
  const { step, instance } = ctx;
  const scope = notificationScope(ctx);
  const subject = t.prefix + replaceTokens(String(step.config[t.subject] ?? `${instance.title ?? 'A request'} (${step.displayName})`), scope).text;
  const html = step.config[t.message] ? replaceTokens(String(step.config[t.message]), scope, escapeHtml).text : defaultBody(instance, step);
  const recipients = recipientsOf(resolveValue(step.config[t.recipients] ?? [], scope)).addresses;
  // Escalation asks the escalation roles; the others ask whoever may act now.
  const notifyRoleIds = !t.toActors ? [] : kind === 'escalation' ? ((step.config.EscalationRoleIds as string[] | undefined) ?? []).map(Number) : instance.pendingRoleIds;
  const links = step.config.OneClickLinks === true && ASKS_FOR_DECISION.has(kind) ? Object.entries(approvalActions).map(([action, a]) => ({ action, label: a.label })) : undefined;
  return { subject, html, recipients, notifyRoleIds, links };
}

/** The data bucket, plus the decisions made at this step so far. */
function notificationScope(ctx: NotifyContext): TokenScope {
  const { scope: base, instance, step } = ctx;
  const decisions = ctx.history.filter((h) => h.step === step.uniqueName && h.kind === 'SignalReceived');
  const comments = decisions.map((h) => `${h.actor}: ${h.message}`).join('\n');
  const data: JsonObject = {
    ...base.data,
    'approval signal cmnts': (base.data['approval signal cmnts'] as string | undefined) || comments,
    approvers: decisions.map((h) => h.actor ?? '').join(', '),
    title: instance.title ?? '',
    step: step.displayName,
  };
  return { data, metadata: base.metadata };
}

function defaultBody(instance: Instance, step: StepDef): string {
  return `<p><strong>${escapeHtml(instance.title ?? instance.id)}</strong></p>
<p>Step: ${escapeHtml(step.displayName)}. ${escapeHtml(instance.statusMessage ?? '')}</p>
<p>Reference ${instance.referenceId}, requested by ${escapeHtml(instance.initiatorName ?? 'unknown')}.</p>`;
}
