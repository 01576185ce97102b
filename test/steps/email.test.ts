import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emailStep, messageIdFor, recipientsOf } from '../../src/steps/email/email.ts';
import { runEnvironment, type SmtpSettings } from '../../src/steps/support/settings.ts';
import { sha256Hex } from '../../src/steps/support/support.ts';
import { startSmtp, type SmtpStandIn } from '../support/stand-ins/smtp.ts';
import { failureOf, runInput } from './run-input.ts';

let smtp: SmtpStandIn;
let authed: SmtpStandIn;
const settings = (port: number, over: Partial<SmtpSettings> = {}): SmtpSettings => ({
  host: '127.0.0.1',
  port,
  security: 'none',
  rejectUnauthorized: true,
  user: null,
  password: null,
  from: 'Countersign <pki@example.test>',
  timeoutMs: 5_000,
  ...over,
});
const send = (config: Record<string, unknown>, over: Partial<SmtpSettings> = {}, key?: string) =>
  emailStep.run!(runInput(config as never, runEnvironment({ smtp: settings(smtp.port, over) }), key ? { idempotencyKey: key } : {}));

beforeAll(async () => {
  smtp = await startSmtp();
  authed = await startSmtp({ auth: { user: 'mailer', password: 'smtp-Secret-123' } });
});
afterAll(async () => {
  await smtp.close();
  await authed.close();
});
beforeEach(() => {
  smtp.messages.length = 0;
  smtp.refuse.clear();
  smtp.onMessage = async () => null;
});

describe('recipients', () => {
  it('expands lists, splits on , and ;, drops empty entries and duplicates, keeps unresolved tokens apart', () => {
    expect(recipientsOf(['a@x.test', ['b@x.test', 'c@x.test'], 'd@x.test; e@x.test,,f@x.test', '', null, 'A@X.test', '$(Missing)', 'Pat <p@x.test>'])).toEqual({
      addresses: ['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test', 'e@x.test', 'f@x.test', 'p@x.test'],
      unresolved: ['$(Missing)'],
      invalid: [],
    });
    expect(recipientsOf(['not an address', 42, { mail: 'x@y.test' }]).invalid).toEqual(['not an address', '42', '{"mail":"x@y.test"}']);
  });
});

describe('Email step over SMTP', () => {
  it('sends one HTML message to every recipient with a Message-ID derived from the idempotency key', async () => {
    const key = '11111111-2222-4333-8444-555555555555/Notify';
    const result = await send(
      {
        Subject: 'Expiring: www.example.com',
        Message: '<h1>Expiring</h1><p>www.example.com on 2026-01-01</p>',
        Recipients: ['owner@example.test', ['a@example.test', 'b@example.test'], 'c@example.test;d@example.test', ''],
      },
      {},
      key,
    );
    expect(result.message).toBe('Sent "Expiring: www.example.com" to 5 recipients.');
    expect(smtp.messages).toHaveLength(1);
    const m = smtp.messages[0];
    expect(m.rcptTo).toEqual(['owner@example.test', 'a@example.test', 'b@example.test', 'c@example.test', 'd@example.test']);
    expect(m.from).toBe('pki@example.test');
    expect(m.subject).toBe('Expiring: www.example.com');
    expect(m.messageId).toBe(`<${sha256Hex(key)}@countersign>`);
    expect(m.messageId).toBe(messageIdFor(key));
    expect(m.headers['x-countersign-idempotency-key']).toBe(key);
    expect(m.headers['content-type']).toMatch(/^text\/html/);
    expect(m.body).toContain('<h1>Expiring</h1><p>www.example.com on 2026-01-01</p>');
  });

  it('a retry of the same step execution carries the same Message-ID; another execution a different one', async () => {
    await send({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, {}, 'inst-1/Notify');
    await send({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, {}, 'inst-1/Notify');
    await send({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, {}, 'inst-2/Notify');
    expect(smtp.messages.map((m) => m.messageId)).toEqual([messageIdFor('inst-1/Notify'), messageIdFor('inst-1/Notify'), messageIdFor('inst-2/Notify')]);
    expect(smtp.unique()).toHaveLength(2);
  });

  it('token values inserted into the HTML body are escaped; the Message markup itself is kept', async () => {
    const config = { Subject: 'New request for $(cn)', Message: '<p>Common name: <b>$(cn)</b> by $(metadata:Requester)</p>', Recipients: ['x@example.test'] };
    const input = runInput({ ...config, Subject: 'New request for <a href="https://evil.test">x</a>' }, runEnvironment({ smtp: settings(smtp.port) }));
    input.step = { ...input.step, config };
    input.instance = { ...input.instance, stateData: { cn: '<a href="https://evil.test">x</a>' }, metadata: { Requester: "O'Brien & Co" } };
    await emailStep.run!(input);
    expect(smtp.messages[0].body).toContain('<p>Common name: <b>&lt;a href=&quot;https://evil.test&quot;&gt;x&lt;/a&gt;</b> by O&#39;Brien &amp; Co</p>');
    expect(smtp.messages[0].subject).toBe('New request for <a href="https://evil.test">x</a>');
  });

  it('subject line breaks from tokens cannot add headers', async () => {
    await send({ Subject: 'Hello\r\nBcc: evil@example.test', Message: 'm', Recipients: ['x@example.test'] });
    expect(smtp.messages[0].rcptTo).toEqual(['x@example.test']);
    expect(smtp.messages[0].headers.bcc).toBeUndefined();
    expect(smtp.messages[0].subject).toBe('Hello Bcc: evil@example.test');
  });

  it('no recipients fails, not retryable, with a clear message', async () => {
    const f = await failureOf(send({ Subject: 's', Message: 'm', Recipients: ['', ' ; ', '$(ownerroleemail)'] }));
    expect(f).toEqual({ message: 'the email has no recipients: Recipients resolved to no address (the tokens $(ownerroleemail) did not resolve).', retryable: false });
    expect(await failureOf(send({ Subject: 's', Message: 'm', Recipients: [] }))).toEqual({
      message: 'the email has no recipients: Recipients resolved to no address.',
      retryable: false,
    });
    expect(smtp.messages).toHaveLength(0);
  });

  it('an entry that is not an address fails, not retryable', async () => {
    const f = await failureOf(send({ Subject: 's', Message: 'm', Recipients: ['ok@example.test', 'Bob Smith'] }));
    expect(f).toEqual({ message: "Recipients: 'Bob Smith' is not an email address.", retryable: false });
  });

  it('without a mail server configured the step fails naming the setting', async () => {
    const f = await failureOf(emailStep.run!(runInput({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, runEnvironment())));
    expect(f.retryable).toBe(false);
    expect(f.message).toContain('COUNTERSIGN_SMTP_HOST');
  });

  it('a 5xx refusal is not retryable; a 4xx deferral is', async () => {
    smtp.refuse.set('gone@example.test', 550);
    const permanent = await failureOf(send({ Subject: 's', Message: 'm', Recipients: ['gone@example.test'] }));
    expect(permanent.retryable).toBe(false);
    expect(permanent.message).toMatch(/refused the message \(550\)/);
    smtp.refuse.set('busy@example.test', 451);
    const transient = await failureOf(send({ Subject: 's', Message: 'm', Recipients: ['busy@example.test'] }));
    expect(transient.retryable).toBe(true);
    expect(transient.message).toMatch(/deferred the message \(451\)/);
    smtp.onMessage = async () => ({ code: 552, message: 'message too big' });
    expect((await failureOf(send({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }))).retryable).toBe(false);
    smtp.onMessage = async () => ({ code: 421, message: 'try later' });
    expect((await failureOf(send({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }))).retryable).toBe(true);
  });

  it('one refused recipient among several: the others get the message and the result says so', async () => {
    smtp.refuse.set('gone@example.test', 550);
    const r = await send({ Subject: 's', Message: 'm', Recipients: ['gone@example.test', 'here@example.test'] });
    expect(r.message).toContain('the server refused 1 of them');
    expect(smtp.messages[0].rcptTo).toEqual(['here@example.test']);
  });

  it('a mail server that cannot be reached is retryable', async () => {
    const closed: Server = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const f = await failureOf(emailStep.run!(runInput({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, runEnvironment({ smtp: settings(port) }))));
    expect(f.retryable).toBe(true);
    expect(f.message).toContain(`could not deliver to the mail server 127.0.0.1:${port}`);
  });

  it('signs in with SMTP AUTH; a refused password is not retryable and never appears in the message', async () => {
    const env = (password: string) => runEnvironment({ smtp: settings(authed.port, { user: 'mailer', password }) });
    await emailStep.run!(runInput({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, env('smtp-Secret-123')));
    expect(authed.messages[0].user).toBe('mailer');
    const f = await failureOf(emailStep.run!(runInput({ Subject: 's', Message: 'm', Recipients: ['x@example.test'] }, env('wrong-Password-456'))));
    expect(f.retryable).toBe(false);
    expect(f.message).toContain('535');
    expect(f.message).not.toContain('wrong-Password-456');
    expect(f.message).not.toContain(Buffer.from('wrong-Password-456').toString('base64'));
  });
});
