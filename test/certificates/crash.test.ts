import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer } from '../support/child-server.ts';
import { ADMIN, basic, makeCaller } from '../support/server.ts';
import { opensslCsr } from './openssl.ts';
import { waitFor } from '../support/until.ts';

/*
 * SIGKILL while the runner issues certificates: twenty approved requests, the server killed as
 * soon as the first certificate is recorded (the others are being signed or queued), then
 * started again on the same database. Every request ends with exactly one certificate.
 */

const N = 20;
let dir: string;
const running: ChildProcess[] = [];

async function startServer(keyFile = 'ca.key'): Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }> {
  const { child, exited, ready } = await startChildServer(
    'test/runner/server-process.ts',
    { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    {
      DATABASE_URL: `sqlite:${join(dir, 'countersign.db')}`,
      COUNTERSIGN_JOB_LEASE_MS: '2000',
      COUNTERSIGN_CA_KEY_FILE: join(dir, keyFile),
      COUNTERSIGN_CA_KEY: '',
    },
  );
  running.push(child);
  return { url: ready.url, child, exited };
}

/** Polled every 20 ms: the kill must land while issuance is still under way. */
const until = <T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>) => waitFor(what, probe, 60_000, 20);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-ca-crash-'));
});
afterAll(() => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('crash during issuance', () => {
  it('SIGKILL while the runner signs: after a restart every approved request has exactly one certificate', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'ca.key'), Buffer.alloc(32, 7).toString('base64'), { mode: 0o600 });
    let server = await startServer();
    let call = makeCaller(server.url, basic(ADMIN.user, ADMIN.password));
    // Four eyes: the administrator requests, another identity approves.
    const approver = await call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'approver', Password: 'approver-password-1' }, unchecked: true });
    expect(approver.status, approver.text).toBe(200);
    const role = await call('POST', '/KeyfactorAPI/Security/Roles', {
      body: { Name: 'Approvers', Description: 'crash', Permissions: ['WorkflowInstances:ReadAll'], Identities: [{ AccountName: 'approver' }] },
      unchecked: true,
    });
    expect(role.status, role.text).toBe(200);
    const adminRole = role.body.Id as number;
    const def = await call('POST', '/KeyfactorAPI/Workflow/Definitions', {
      body: { DisplayName: 'Approve then enroll', Description: 'crash', WorkflowType: 'Enrollment', Key: '1' },
    });
    const step = (UniqueName: string, ExtensionName: string, next?: string, signals: unknown[] = []) => ({
      UniqueName,
      DisplayName: UniqueName,
      ExtensionName,
      Enabled: true,
      ConfigurationParameters: {},
      Signals: signals,
      Conditions: [],
      Outputs: next ? { continue: next } : {},
    });
    const put = await call('PUT', `/KeyfactorAPI/Workflow/Definitions/${def.body.Id}/Steps`, {
      body: [
        step('Start', 'NOOPStep', 'Approve'),
        step('Approve', 'RequireApproval', 'Enroll', [{ SignalName: 'ApprovalStatus', RoleIds: [adminRole], RoleTokens: [] }]),
        step('Enroll', 'EnrollStep', 'End'),
        step('End', 'NOOPStep'),
      ],
    });
    expect(put.status, put.text).toBe(200);
    expect((await call('POST', `/KeyfactorAPI/Workflow/Definitions/${def.body.Id}/Publish`)).status).toBe(200);

    const csrs = Array.from({ length: N }, (_, i) => opensslCsr('p256', `/CN=crash${i}.example.com`, `DNS:crash${i}.example.com`).csr);
    const pending = [];
    for (const csr of csrs) {
      const r = await call('POST', '/KeyfactorAPI/Enrollment/CSR', { headers: { 'x-certificateformat': 'PEM' }, body: { CSR: csr, Template: 'Countersign' } });
      expect(r.body.CertificateInformation.RequestDisposition).toBe('PENDING');
      pending.push(r.body.CertificateInformation);
    }
    const approved = await Promise.all(
      pending.map((p) =>
        call('POST', `/KeyfactorAPI/Workflow/Instances/${p.WorkflowInstanceId}/Signals`, {
          auth: basic('approver', 'approver-password-1'),
          body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } },
        }),
      ),
    );
    expect(approved.map((r) => r.status)).toEqual(pending.map(() => 204));
    const db = new Database(join(dir, 'countersign.db'), { readonly: true, fileMustExist: true });
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM certificates').get() as { n: number }).n;
    await until('the first certificate', () => count() >= 1);
    server.child.kill('SIGKILL');
    await server.exited;
    const atKill = count();
    expect(atKill).toBeLessThan(N);

    server = await startServer();
    call = makeCaller(server.url, basic(ADMIN.user, ADMIN.password));
    for (const p of pending) {
      await until(`instance ${p.WorkflowInstanceId}`, async () => (await call('GET', `/KeyfactorAPI/Workflow/Instances/${p.WorkflowInstanceId}`)).body.Status === 3);
    }
    const rows = db.prepare('SELECT request_id, COUNT(*) AS n FROM certificates GROUP BY request_id ORDER BY request_id').all() as { request_id: number; n: number }[];
    expect(rows.map((r) => r.request_id)).toEqual(pending.map((p) => p.KeyfactorRequestId).sort((a, b) => a - b));
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const issuedEntries = db.prepare("SELECT COUNT(*) AS n FROM certificate_history WHERE action = 'Issued'").get() as { n: number };
    expect(issuedEntries.n).toBe(N);
    db.close();
    server.child.kill('SIGKILL');
    await server.exited;

    // The wrong key-encryption key for this store: the server refuses to start, saying why.
    writeFileSync(join(dir, 'other.key'), Buffer.alloc(32, 9).toString('base64'), { mode: 0o600 });
    await expect(startServer('other.key')).rejects.toThrow(/not the key this store's CA keys were sealed with/);
    await expect(startServer('missing.key')).rejects.toThrow(/does not exist/);
  }, 120_000);
});
