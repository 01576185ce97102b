import { createHash } from 'node:crypto';
import { scopeOf, findStep, type NotifyKind } from '../domain/engine.ts';
import { replaceTokens, resolveValue, type TokenScope } from '../domain/tokens.ts';
import type { Instance, JsonObject, StepDef } from '../domain/types.ts';
import { ACTION_PATH } from '../api/action-pages.ts';
import { escapeHtml } from '../shared/html.ts';
import { signAction } from '../security/action-links.ts';
import type { SecurityService } from '../service/security.ts';
import type { WorkflowService } from '../service/workflow.ts';
import { recipientsOf } from '../steps/email.ts';
import type { SmtpSettings } from '../steps/settings.ts';
import type { Identity, Job, Store } from '../store/store.ts';
import { sendMail, type MailMessage } from '../steps/mailer.ts';

export interface NotifierOptions {
  smtp: SmtpSettings | null;
  /** Where people reach this server, for links in emails (no trailing slash). */
  publicUrl: string;
  linkSecret: string;
  /** How long one-click links stay valid (ms). */
  linkTtlMs: number;
  /** Who is in a role (src/domain/membership.ts), for the request, reminder and escalation emails. */
  security: Pick<SecurityService, 'peopleIn'>;
  /** Replaceable for tests; defaults to SMTP. */
  send?: (msg: MailMessage, signal: AbortSignal) => Promise<void>;
}

export type NotifyResult = { kind: 'Notified' | 'NotificationFailed'; message: string; data?: JsonObject };

/** Which parameters each notification reads, and how its subject is marked. */
const TEMPLATES: Record<NotifyKind, { subject: string; message: string; recipients: string; prefix: string }> = {
  request: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'RequestRecipients', prefix: '' },
  reminder: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'RequestRecipients', prefix: 'Reminder: ' },
  escalation: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'EscalationRecipients', prefix: 'Escalated: ' },
  timeout: { subject: 'RequestSubject', message: 'RequestMessage', recipients: 'RequestRecipients', prefix: 'Timed out: ' },
  approved: { subject: 'ApprovedSubject', message: 'ApprovedMessage', recipients: 'ApprovedRecipients', prefix: '' },
  denied: { subject: 'DeniedSubject', message: 'DeniedMessage', recipients: 'DeniedRecipients', prefix: '' },
};

/**
 * Sends the approval emails a RequireApproval step asks for: the request (to the identities who
 * may act and have not, plus listed recipients), reminders, escalations, timeouts, and the
 * outcome emails. Tokens are replaced at send time; values inserted into HTML are escaped.
 */
export class Notifier {
  constructor(
    private readonly store: Store,
    private readonly workflow: WorkflowService,
    private readonly o: NotifierOptions,
  ) {}

  async notify(job: Job, signal: AbortSignal): Promise<NotifyResult> {
    const effect = job.effect;
    if (effect.type !== 'notify') return { kind: 'NotificationFailed', message: `Job ${job.id} is not a notification.` };
    const instance = await this.store.getInstance(job.instanceId);
    if (!instance) return { kind: 'NotificationFailed', message: 'The instance no longer exists.' };
    const version = await this.workflow.version(instance.definitionId, instance.definitionVersion);
    const step = findStep(version, effect.step);
    const t = TEMPLATES[effect.kind];
    const scope = await this.scope(instance, step);
    const subject = t.prefix + replaceTokens(String(step.config[t.subject] ?? `${instance.title ?? 'A request'} (${step.displayName})`), scope).text;
    const body = step.config[t.message] ? replaceTokens(String(step.config[t.message]), scope, escapeHtml).text : defaultBody(instance, step);
    const listed = recipientsOf(resolveValue(step.config[t.recipients] ?? [], scope));
    const people = await this.people(effect.kind, instance, step);
    if (!this.o.smtp) return { kind: 'NotificationFailed', message: `The ${effect.kind} email was not sent: no mail server is configured (COUNTERSIGN_SMTP_HOST).` };
    const links = step.config.OneClickLinks === true && ['request', 'reminder', 'escalation'].includes(effect.kind);
    const base = `${instance.id}/${step.uniqueName}/${effect.kind}/${effect.at}`;
    const messages: MailMessage[] = [];
    const personal = people.filter((p) => p.email);
    if (links) {
      for (const p of personal) messages.push(this.message([p.email!], subject, body + this.linksFor(instance, step, p), `${base}/${p.id}`));
      if (listed.addresses.length) messages.push(this.message(listed.addresses, subject, body, base));
    } else {
      const to = [...new Set([...personal.map((p) => p.email!), ...listed.addresses])];
      if (to.length) messages.push(this.message(to, subject, body, base));
    }
    const count = messages.reduce((n, m) => n + m.to.length, 0);
    if (count === 0) return { kind: 'NotificationFailed', message: `The ${effect.kind} email was not sent: nobody to send it to (no listed recipients, and no one who may act has an Email).` };
    const send = this.o.send ?? ((m: MailMessage, s: AbortSignal) => sendMail(this.o.smtp!, m, s));
    for (const m of messages) await send(m, signal);
    const to = messages.flatMap((m) => m.to);
    return { kind: 'Notified', message: `Sent the ${effect.kind} email "${subject}" to ${to.length} recipient${to.length === 1 ? '' : 's'}.`, data: { Kind: effect.kind, Recipients: to } };
  }

  private message(to: string[], subject: string, html: string, key: string): MailMessage {
    return { to, subject, html, messageId: `<${createHash('sha256').update(key).digest('hex')}@countersign>`, idempotencyKey: key };
  }

  /** Identities who may act and have not: for request, reminder, escalation and timeout emails. */
  private async people(kind: NotifyKind, instance: Instance, step: StepDef): Promise<Identity[]> {
    if (kind === 'approved' || kind === 'denied') return [];
    const roleIds = kind === 'escalation' ? (step.config.EscalationRoleIds as string[] | undefined ?? []).map(Number) : instance.pendingRoleIds;
    const acted = new Set(instance.signals.filter((s) => s.step === step.uniqueName).map((s) => s.identityId));
    const members = await this.o.security.peopleIn(roleIds);
    // The initiator, barred from approving their own request, is not asked to.
    const barred = new Set(instance.pendingExcludedIds);
    return members.filter((p) => !acted.has(p.id) && !barred.has(p.id));
  }

  private linksFor(instance: Instance, step: StepDef, p: Identity): string {
    const expires = Date.now() + this.o.linkTtlMs;
    const url = (approve: boolean) => `${this.o.publicUrl}${ACTION_PATH}/${signAction({ instanceId: instance.id, step: step.uniqueName, identityId: p.id, approve, expires }, this.o.linkSecret)}`;
    return `<p style="margin-top:24px">Decide now (you will be asked to confirm; these links are yours alone, work once, and expire on ${new Date(expires).toUTCString()}):</p>
<p><a href="${escapeHtml(url(true))}">Approve</a> &nbsp; <a href="${escapeHtml(url(false))}">Deny</a></p>`;
  }

  /** The data bucket, plus the decisions made at this step so far. */
  private async scope(instance: Instance, step: StepDef): Promise<TokenScope> {
    const base = scopeOf(instance);
    const decisions = (await this.store.getHistory(instance.id)).filter((h) => h.step === step.uniqueName && h.kind === 'SignalReceived');
    const comments = decisions.map((h) => `${h.actor}: ${h.message}`).join('\n');
    return {
      data: { ...base.data, 'approval signal cmnts': (base.data['approval signal cmnts'] as string | undefined) || comments, approvers: decisions.map((h) => h.actor ?? '').join(', '), title: instance.title ?? '', step: step.displayName },
      metadata: base.metadata,
    };
  }
}

function defaultBody(instance: Instance, step: StepDef): string {
  return `<p><strong>${escapeHtml(instance.title ?? instance.id)}</strong></p>
<p>Step: ${escapeHtml(step.displayName)}. ${escapeHtml(instance.statusMessage ?? '')}</p>
<p>Reference ${instance.referenceId}, requested by ${escapeHtml(instance.initiatorName ?? 'unknown')}.</p>`;
}

