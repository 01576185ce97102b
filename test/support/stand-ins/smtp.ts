import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/** One message as the loopback SMTP server received it. */
export interface ReceivedMail {
  from: string;
  /** Envelope recipients (RCPT TO). */
  rcptTo: string[];
  /** Header name (lower case) -> value, unfolded. */
  headers: Record<string, string>;
  messageId: string;
  subject: string;
  /** The body, transfer encoding undone. */
  body: string;
  raw: string;
  /** Who signed in (AUTH), if anyone. */
  user: string | null;
}

export interface SmtpStandIn {
  port: number;
  /** Every message received, duplicates included. */
  messages: ReceivedMail[];
  /** Messages de-duplicated by Message-ID, as a receiver following docs/steps.md does. */
  unique(): ReceivedMail[];
  /** Replaces how DATA is answered (e.g. to hold it open or reply 4xx/5xx). */
  onMessage: (mail: ReceivedMail) => Promise<{ code: number; message: string } | null>;
  /** RCPT TO answers: address -> SMTP code (e.g. 550) for refused addresses. */
  refuse: Map<string, number>;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/**
 * A real SMTP server (the smtp-server package) on loopback. Plain text, no STARTTLS; AUTH
 * PLAIN/LOGIN is accepted for `auth.user` / `auth.password` when given.
 */
export async function startSmtp(opts: { auth?: { user: string; password: string } } = {}): Promise<SmtpStandIn> {
  const messages: ReceivedMail[] = [];
  const waiters: (() => void)[] = [];
  const standIn: SmtpStandIn = {
    port: 0,
    messages,
    unique: () => [...new Map(messages.map((m) => [m.messageId, m])).values()],
    onMessage: async () => null,
    refuse: new Map(),
    waitFor: (count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve(messages);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => reject(new Error(`expected ${count} messages, got ${messages.length}`)), timeoutMs);
        if (!check()) waiters.push(() => void check());
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    secure: false,
    disabledCommands: opts.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, cb) {
      const code = standIn.refuse.get(address.address.toLowerCase());
      if (code) cb(Object.assign(new Error(`${address.address}: refused`), { responseCode: code }));
      else cb();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail = parseMail(Buffer.concat(chunks).toString('utf8'), session);
        messages.push(mail);
        for (const w of waiters.splice(0)) w();
        standIn.onMessage(mail).then(
          (answer) => (answer ? cb(Object.assign(new Error(answer.message), { responseCode: answer.code })) : cb()),
          (err) => cb(err),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  standIn.port = (server.server.address() as AddressInfo).port;
  return standIn;
}

function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(split + 4);
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'quoted-printable') body = decodeQuotedPrintable(body);
  else if (encoding === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  const envelope = session.envelope;
  return {
    from: envelope.mailFrom ? envelope.mailFrom.address : '',
    rcptTo: envelope.rcptTo.map((r) => r.address),
    headers,
    messageId: headers['message-id'] ?? '',
    subject: decodeWords(headers.subject ?? ''),
    body,
    raw,
    user: typeof session.user === 'string' ? session.user : null,
  };
}

function decodeQuotedPrintable(text: string): string {
  const s = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const hex = s.slice(i + 1, i + 3);
    if (s[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** RFC 2047 encoded words (=?UTF-8?Q?...?= / =?UTF-8?B?...?=). */
function decodeWords(text: string): string {
  return text.replace(/=\?([^?]+)\?([QB])\?([^?]*)\?=\s*/gi, (_, _cs: string, enc: string, data: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}
