import { createTransport } from 'nodemailer';
import { StepFailure } from '../../domain/step-type.ts';
import type { SmtpSettings } from './settings.ts';
import { excerpt, redact } from './support.ts';

export interface MailMessage {
  to: string[];
  subject: string;
  html: string;
  /** Deterministic per logical message, so a receiver can drop a retried duplicate. */
  messageId: string;
  idempotencyKey: string;
}

/**
 * Sends one HTML message through the configured SMTP server (the Email step and the approval
 * notifications both use it). Failures are StepFailures; returns how many recipients the server
 * refused.
 */
export async function sendMail(smtp: SmtpSettings, msg: MailMessage, signal: AbortSignal): Promise<{ rejected: number }> {
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
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(new StepFailure('sending the email took too long; it will be tried again.', true));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  aborted.catch(() => {});
  try {
    const info = await Promise.race([
      transporter.sendMail({
        from: smtp.from,
        to: msg.to,
        subject: msg.subject.replace(/[\r\n]+/g, ' '),
        html: msg.html,
        messageId: msg.messageId,
        headers: { 'X-Countersign-Idempotency-Key': msg.idempotencyKey },
      }),
      aborted,
    ]);
    return { rejected: (info.rejected ?? []).length };
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    throw smtpFailure(err, smtp);
  } finally {
    transporter.close();
  }
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
