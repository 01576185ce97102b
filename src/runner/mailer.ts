import { createTransport } from 'nodemailer';
import { smtpFailure } from '../steps/email.ts';
import { StepFailure } from '../steps/plugin.ts';
import type { SmtpSettings } from '../steps/settings.ts';

export interface MailMessage {
  to: string[];
  subject: string;
  html: string;
  /** Deterministic per logical message, so a receiver can drop a retried duplicate. */
  messageId: string;
  idempotencyKey: string;
}

/** Sends one HTML message through the configured SMTP server; failures are StepFailures. */
export async function sendMail(smtp: SmtpSettings, msg: MailMessage, signal: AbortSignal): Promise<void> {
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
    await Promise.race([
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
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    throw smtpFailure(err, smtp);
  } finally {
    transporter.close();
  }
}
