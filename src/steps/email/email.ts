import { replaceTokens } from '../../domain/tokens.ts';
import type { Json } from '../../domain/types.ts';
import { sendMail } from '../support/mailer.ts';
import { param, StepFailure, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import { stepSettings } from '../support/settings.ts';
import { escapeHtml, excerpt, sha256Hex, stringOf } from '../support/support.ts';

/**
 * Email: sends one HTML message through the configured SMTP server. The Message-ID is derived
 * from the step's idempotency key, so every retry of the same step execution carries the same
 * Message-ID and a receiver can drop duplicates.
 */
export const emailStep: StepType = {
  extensionName: 'Email',
  displayName: 'Send Email',
  description: 'Sends an email message.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    Subject: param('Subject', 'string', { required: true, tokens: true }),
    Message: param('Message', 'html', { required: true, tokens: true }),
    Recipients: param('Recipients', 'stringList', {
      required: true,
      tokens: true,
      tooltip: 'Addresses or tokens; a token holding a list expands to several recipients; a text may hold several addresses separated by , or ;.',
    }),
  },
  enter: () => ({ kind: 'run' }),
  run: sendEmail,
};

/** The Message-ID for one step execution: the same on every attempt. */
export const messageIdFor = (idempotencyKey: string): string => `<${sha256Hex(idempotencyKey)}@countersign>`;

export interface Recipients {
  addresses: string[];
  /** Entries still holding a $(token) after replacement (the token did not resolve). */
  unresolved: string[];
  /** Entries that are not email addresses. */
  invalid: string[];
}

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;
const NAMED_ADDRESS = /^(?:"?([^"<>]*)"?\s*)<([^<>\s]+)>$/;

/**
 * Flattens the resolved Recipients: lists expand, texts split on , and ;, empty entries drop,
 * duplicates (ignoring case) count once.
 */
export function recipientsOf(value: Json | undefined): Recipients {
  const out: Recipients = { addresses: [], unresolved: [], invalid: [] };
  const seen = new Set<string>();
  const visit = (v: Json | undefined): void => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (typeof v !== 'string') {
      out.invalid.push(excerpt(stringOf(v), 60));
      return;
    }
    for (const raw of v.split(/[,;]/)) {
      const entry = raw.trim();
      if (entry === '') continue;
      if (/\$\([^()]+\)/.test(entry)) {
        out.unresolved.push(entry);
        continue;
      }
      const named = NAMED_ADDRESS.exec(entry);
      const address = named ? named[2] : entry;
      if (!ADDRESS.test(address)) {
        out.invalid.push(excerpt(entry, 60));
        continue;
      }
      const key = address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      out.addresses.push(address);
    }
  };
  visit(value);
  return out;
}

async function sendEmail(input: RunInput): Promise<RunResult> {
  const smtp = stepSettings(input.env).smtp;
  if (!smtp) throw new StepFailure('no mail server is configured: set COUNTERSIGN_SMTP_HOST (and COUNTERSIGN_SMTP_FROM) to send email.', false);
  const r = recipientsOf(input.config.Recipients);
  if (r.invalid.length)
    throw new StepFailure(`Recipients: ${r.invalid.map((x) => `'${x}'`).join(', ')} ${r.invalid.length === 1 ? 'is not an email address' : 'are not email addresses'}.`, false);
  if (r.addresses.length === 0) {
    const why = r.unresolved.length ? ` (the tokens ${r.unresolved.join(', ')} did not resolve)` : '';
    throw new StepFailure(`the email has no recipients: Recipients resolved to no address${why}.`, false);
  }
  const subject = stringOf(input.config.Subject ?? '').replace(/[\r\n]+/g, ' ');
  const html = htmlBody(input);
  const { rejected } = await sendMail(smtp, { to: r.addresses, subject, html, messageId: messageIdFor(input.idempotencyKey), idempotencyKey: input.idempotencyKey }, input.signal);
  const skipped = r.unresolved.length ? `; skipped unresolved ${r.unresolved.join(', ')}` : '';
  const partly = rejected ? `; the server refused ${rejected} of them` : '';
  return { message: `Sent "${excerpt(subject, 80)}" to ${r.addresses.length} recipient${r.addresses.length === 1 ? '' : 's'}${partly}${skipped}.` };
}

/**
 * The HTML body: the Message with its tokens replaced, each inserted value HTML-escaped (data
 * from requests must not add markup or links to the message). Without the instance's data (a
 * direct call) the runner's plain replacement is used.
 */
function htmlBody(input: RunInput): string {
  const raw = input.step?.config?.Message;
  const inst = input.instance;
  if (typeof raw !== 'string' || !inst?.stateData) return stringOf(input.config.Message ?? '');
  return replaceTokens(raw, { data: inst.stateData, metadata: inst.metadata ?? {} }, escapeHtml).text;
}
