import { createHash } from 'node:crypto';
import { findStep, scopeOf } from '../domain/engine.ts';
import { escapeHtml } from '../domain/html.ts';
import type { StepRegistry } from '../domain/step-registry.ts';
import type { Notification } from '../domain/step-type.ts';
import type { Instance, JsonObject, StepDef } from '../domain/types.ts';
import { ACTION_PATH, signAction } from '../security/action-links.ts';
import type { SecurityService } from '../service/security.ts';
import type { WorkflowService } from '../service/workflow.ts';
import { sendMail, type MailMessage } from '../steps/support/mailer.ts';
import type { SmtpSettings } from '../steps/support/settings.ts';
import type { Identity, Job, Store } from '../store/store.ts';

export interface NotifierOptions {
  smtp: SmtpSettings | null;
  /** The step types, whose notification hook says what to send. */
  registry: StepRegistry;
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

/**
 * Delivers the notifications step types ask for (WaitPlan.notify, onDecided). The step type's
 * notification hook says what to send and to whom; this only resolves the people in the roles
 * (who have not acted, and are not barred), adds their personal one-click links, sends the mail
 * and reports the note to record.
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
    const history = (await this.store.getHistory(instance.id)).filter((h) => h.step === step.uniqueName);
    const ctx = { step, instance, scope: scopeOf(instance), signals: instance.signals.filter((s) => s.step === step.uniqueName), history };
    const note = this.o.registry.get(step.extensionName)?.notification?.(ctx, effect.kind) ?? null;
    if (!note) return { kind: 'NotificationFailed', message: `The ${effect.kind} email was not sent: step type ${step.extensionName} has no such notification.` };
    const { subject, html: body } = note;
    const people = await this.people(note.notifyRoleIds, instance, step);
    if (!this.o.smtp) return { kind: 'NotificationFailed', message: `The ${effect.kind} email was not sent: no mail server is configured (COUNTERSIGN_SMTP_HOST).` };
    const base = `${instance.id}/${step.uniqueName}/${effect.kind}/${effect.at}`;
    const messages: MailMessage[] = [];
    const personal = people.filter((p) => p.email);
    if (note.links?.length) {
      for (const p of personal) messages.push(this.message([p.email!], subject, body + this.linksFor(instance, step, p, note.links), `${base}/${p.id}`));
      if (note.recipients.length) messages.push(this.message(note.recipients, subject, body, base));
    } else {
      const to = [...new Set([...personal.map((p) => p.email!), ...note.recipients])];
      if (to.length) messages.push(this.message(to, subject, body, base));
    }
    const count = messages.reduce((n, m) => n + m.to.length, 0);
    if (count === 0)
      return { kind: 'NotificationFailed', message: `The ${effect.kind} email was not sent: nobody to send it to (no listed recipients, and no one who may act has an Email).` };
    const send = this.o.send ?? ((m: MailMessage, s: AbortSignal) => sendMail(this.o.smtp!, m, s));
    for (const m of messages) await send(m, signal);
    const to = messages.flatMap((m) => m.to);
    return {
      kind: 'Notified',
      message: `Sent the ${effect.kind} email "${subject}" to ${to.length} recipient${to.length === 1 ? '' : 's'}.`,
      data: { Kind: effect.kind, Recipients: to },
    };
  }

  private message(to: string[], subject: string, html: string, key: string): MailMessage {
    return { to, subject, html, messageId: `<${createHash('sha256').update(key).digest('hex')}@countersign>`, idempotencyKey: key };
  }

  /** Members of the (enabled) roles who have not acted on this step and are not barred from it. */
  private async people(roleIds: number[], instance: Instance, step: StepDef): Promise<Identity[]> {
    const acted = new Set(instance.signals.filter((s) => s.step === step.uniqueName).map((s) => s.identityId));
    const members = await this.o.security.peopleIn(roleIds);
    // The initiator, barred from approving their own request, is not asked to.
    const barred = new Set(instance.pendingExcludedIds);
    return members.filter((p) => !acted.has(p.id) && !barred.has(p.id));
  }

  /** The person's own signed links, one per action the step type offers. */
  private linksFor(instance: Instance, step: StepDef, p: Identity, links: NonNullable<Notification['links']>): string {
    const expires = Date.now() + this.o.linkTtlMs;
    const url = (action: string) =>
      `${this.o.publicUrl}${ACTION_PATH}/${signAction({ instanceId: instance.id, step: step.uniqueName, identityId: p.id, action, expires }, this.o.linkSecret)}`;
    const anchors = links.map((l) => `<a href="${escapeHtml(url(l.action))}">${escapeHtml(l.label)}</a>`).join(' &nbsp; ');
    return `<p style="margin-top:24px">Decide now (you will be asked to confirm; these links are yours alone, work once, and expire on ${new Date(expires).toUTCString()}):</p>
<p>${anchors}</p>`;
  }
}
