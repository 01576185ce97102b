import { createTransport } from 'nodemailer';
import { replaceTokens } from '../domain/tokens.ts';
import type { Json } from '../domain/types.ts';
import { param, StepFailure, type RunInput, type RunResult, type StepType } from './plugin.ts';
import { stepSettings, type SmtpSettings } from './settings.ts';
import { escapeHtml, excerpt, redact, sha256Hex, stringOf } from './support.ts';

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

const ADDRESS = /^[^\s@<>()\[\]\\,;:"]+@[^\s@<>()\[\]\\,;:"]+$/;
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
    if (Array.isArray(v)) return v.forEach(visit);
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
  if (r.invalid.length) throw new StepFailure(`Recipients: ${r.invalid.map((x) => `'${x}'`).join(', ')} ${r.invalid.length === 1 ? 'is not an email address' : 'are not email addresses'}.`, false);
  if (r.addresses.length === 0) {
    const why = r.unresolved.length ? ` (the tokens ${r.unresolved.join(', ')} did not resolve)` : '';
    throw new StepFailure(`the email has no recipients: Recipients resolved to no address${why}.`, false);
  }
  const subject = stringOf(input.config.Subject ?? '').replace(/[\r\n]+/g, ' ');
  const html = htmlBody(input);
  const transporter = createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    opportunisticTLS: smtp.security === 'opportunistic',
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    tls: { rejectUnauthorized: smtp.rejectUnauthorized },
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new StepFailure('sending the email took longer than the step may run.', true));
    if (input.signal.aborted) onAbort();
    else input.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const info = await Promise.race([
      transporter.sendMail({
        from: smtp.from,
        to: r.addresses,
        subject,
        html,
        messageId: messageIdFor(input.idempotencyKey),
        headers: { 'X-Countersign-Idempotency-Key': input.idempotencyKey },
      }),
      aborted,
    ]);
    const rejected = (info.rejected ?? []).length;
    const skipped = r.unresolved.length ? `; skipped unresolved ${r.unresolved.join(', ')}` : '';
    const partly = rejected ? `; the server refused ${rejected} of them` : '';
    return { message: `Sent "${excerpt(subject, 80)}" to ${r.addresses.length} recipient${r.addresses.length === 1 ? '' : 's'}${partly}${skipped}.` };
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    throw smtpFailure(err, smtp);
  } finally {
    if (onAbort) input.signal.removeEventListener('abort', onAbort);
    aborted.catch(() => {});
    transporter.close();
  }
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

/** 5xx replies are permanent; 4xx replies, timeouts and connection problems are tried again. */
export function smtpFailure(err: unknown, smtp: Pick<SmtpSettings, 'host' | 'port' | 'user' | 'password'>): StepFailure {
  const e = err as { message?: string; code?: string; responseCode?: number };
  const text = redact(excerpt(String(e?.message ?? err), 300), [smtp.password, smtp.user]);
  const code = typeof e?.responseCode === 'number' ? e.responseCode : null;
  if (code !== null && code >= 500) return new StepFailure(`the mail server ${smtp.host}:${smtp.port} refused the message (${code}): ${text}`, false);
  if (code !== null && code >= 400) return new StepFailure(`the mail server ${smtp.host}:${smtp.port} deferred the message (${code}): ${text}`, true);
  if (e?.code === 'EAUTH' || e?.code === 'ENOAUTH' || e?.code === 'ECONFIG' || e?.code === 'EENVELOPE' || e?.code === 'EMESSAGE')
    return new StepFailure(`the mail server ${smtp.host}:${smtp.port} did not accept the message: ${text}`, false);
  return new StepFailure(`could not deliver to the mail server ${smtp.host}:${smtp.port}: ${text}`, true);
}
