import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageIdFor } from '../../src/steps/email/email.ts';
import { startChildServer } from '../support/child-server.ts';
import { ADMIN, basic, makeCaller } from '../support/server.ts';
import { json, startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';
import { startSmtp, type SmtpStandIn } from '../support/stand-ins/smtp.ts';
import { waitFor } from '../support/until.ts';

/*
 * SIGKILL in the middle of a workflow, twice: once while a REST call is in flight, once while
 * the mail server has the message but has not answered. Each time the server is started again
 * on the same database; the instance completes with nothing lost, and every repeated side
 * effect carries the same idempotency key (the REST Idempotency-Key header, the email
 * Message-ID), so the receivers de-duplicate.
 */

const PWSH = fileURLToPath(new URL('../support/stand-ins/pwsh', import.meta.url));

interface Proc {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

let dir: string;
let smtp: SmtpStandIn;
let api: HttpStandIn;
const running: ChildProcess[] = [];

async function startServer(): Promise<Proc> {
  const { child, exited, ready } = await startChildServer(
    'test/runner/server-process.ts',
    { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    {
      DATABASE_URL: `sqlite:${join(dir, 'countersign.db')}`,
      // A short lease so the restarted server takes the killed one's job over quickly.
      COUNTERSIGN_JOB_LEASE_MS: '3000',
      COUNTERSIGN_REST_TIMEOUT_MS: '1000',
      COUNTERSIGN_EGRESS_ALLOW: '127.0.0.1,localhost',
      COUNTERSIGN_SMTP_HOST: '127.0.0.1',
      COUNTERSIGN_SMTP_PORT: String(smtp.port),
      COUNTERSIGN_SMTP_SECURE: 'none',
      COUNTERSIGN_SMTP_FROM: 'Countersign <pki@example.test>',
      COUNTERSIGN_SMTP_TIMEOUT_MS: '1000',
      COUNTERSIGN_PWSH: PWSH,
    },
  );
  running.push(child);
  return { url: ready.url, child, exited };
}

async function kill(p: Proc): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

/** Polled every 25 ms: the kills must land while a call or a message is in flight. */
const until = <T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>) => waitFor(what, probe, 45_000, 25);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-crash-'));
  smtp = await startSmtp();
  api = await startHttp();
});
afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await smtp.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('crash and restart', () => {
  it('SIGKILL during a REST call and during an email: after restarts the instance completes, each side effect de-duplicable', async () => {
    // The first call to the API is held open: the server is killed while waiting for it.
    let held = 0;
    api.handler = (req, res) => {
      if (held++ === 0) return new Promise(() => {});
      json(res, 200, { status: 'renewed', serial: '0A1B', cn: JSON.parse(req.body).cn });
    };
    // The mail server takes the first message but never answers: the server is killed then.
    let mails = 0;
    smtp.onMessage = () => (mails++ === 0 ? new Promise(() => {}) : Promise.resolve(null));

    let server = await startServer();
    let call = makeCaller(server.url, basic(ADMIN.user, ADMIN.password));
    const created = await call('POST', '/KeyfactorAPI/Workflow/Definitions', {
      body: { DisplayName: 'Renew and tell', Description: 'crash test', WorkflowType: 'Expiration', Key: 'crash' },
    });
    const definitionId = created.body.Id as string;
    const step = (UniqueName: string, ExtensionName: string, ConfigurationParameters: Record<string, unknown>, next?: string) => ({
      UniqueName,
      DisplayName: UniqueName,
      ExtensionName,
      Enabled: true,
      ConfigurationParameters,
      Signals: [],
      Conditions: [],
      Outputs: next ? { continue: next } : {},
    });
    const put = await call('PUT', `/KeyfactorAPI/Workflow/Definitions/${definitionId}/Steps`, {
      body: [
        step('StartNOOP', 'NOOPStep', {}, 'Renew'),
        step(
          'Renew',
          'RESTRequest',
          { Verb: 'POST', URL: `${api.url}/renew/$(certid)`, Headers: {}, ContentType: 'application/json', RequestContent: '{"cn":"$(cn)"}', DataBucketProperty: 'Renewal' },
          'Summarise',
        ),
        step(
          'Summarise',
          'PowerShell',
          { ScriptParameters: { renewal: '$(Renewal)' }, ScriptContent: 'param($renewal)\n$r = $renewal | ConvertFrom-Json\nreturn @{ "Serial" = $r.serial }' },
          'Tell',
        ),
        step('Tell', 'Email', { Subject: 'Renewed $(cn) ($(Renewal.status))', Message: '<p>New serial $(Serial)</p>', Recipients: ['$(ownerroleemail)'] }, 'EndNOOP'),
        step('EndNOOP', 'NOOPStep', {}),
      ],
    });
    expect(put.status, put.text).toBe(200);
    expect((await call('POST', `/KeyfactorAPI/Workflow/Definitions/${definitionId}/Publish`)).status).toBe(200);
    const started = await call('POST', '/KeyfactorAPI/Workflow/Instances', {
      body: { DefinitionId: definitionId, Title: 'renew', InitialData: { cn: 'www.example.com', certid: '77', ownerroleemail: 'owner@example.test' } },
    });
    const id = started.body.Id as string;

    // Crash 1: the REST call is in flight.
    await until('the first REST call', () => api.requests.length >= 1);
    await kill(server);
    expect(api.requests).toHaveLength(1);

    server = await startServer();
    // Crash 2: the email reached the mail server, which has not answered yet.
    await until('the first email', () => smtp.messages.length >= 1);
    await kill(server);

    server = await startServer();
    call = makeCaller(server.url, basic(ADMIN.user, ADMIN.password));
    const done = await until('the instance to finish', async () => {
      const got = await call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
      return [3, 4, 5].includes(got.body.Status) && got.body;
    });
    expect(done, JSON.stringify(done)).toMatchObject({ Status: 3, CurrentStateData: { Renewal: { status: 'renewed', serial: '0A1B', cn: 'www.example.com' }, Serial: '0A1B' } });

    // The REST receiver saw the call twice, with the same Idempotency-Key.
    expect(api.requests).toHaveLength(2);
    expect(api.requests.map((r) => r.headers['idempotency-key'])).toEqual([`${id}/Renew`, `${id}/Renew`]);
    expect(api.requests.map((r) => r.body)).toEqual(['{"cn":"www.example.com"}', '{"cn":"www.example.com"}']);

    // The mail server got the message twice with one Message-ID: de-duplicated, one email.
    expect(smtp.messages).toHaveLength(2);
    expect(smtp.messages.map((m) => m.messageId)).toEqual([messageIdFor(`${id}/Tell`), messageIdFor(`${id}/Tell`)]);
    const unique = smtp.unique();
    expect(unique).toHaveLength(1);
    expect(unique[0]).toMatchObject({ rcptTo: ['owner@example.test'], subject: 'Renewed www.example.com (renewed)' });
    expect(unique[0].body).toContain('<p>New serial 0A1B</p>');

    // Each step completed exactly once in the instance's history.
    const history = (await call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body.History as {
      Kind: string;
      Step: string;
      Message: string;
    }[];
    const completed = history.filter((h) => h.Kind === 'StepCompleted').map((h) => [h.Step, h.Message]);
    expect(completed).toEqual([
      ['StartNOOP', 'Completed StartNOOP.'],
      ['Renew', `POST ${api.url}/renew/77 answered 200; the response is in $(Renewal).`],
      ['Summarise', 'Set Serial.'],
      ['Tell', 'Sent "Renewed www.example.com (renewed)" to 1 recipient.'],
      ['EndNOOP', 'Completed EndNOOP.'],
    ]);
    await kill(server);
  }, 90_000);
});
