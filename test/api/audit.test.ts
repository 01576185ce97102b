import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { connectTo, dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { basic, startTestApp, type TestApp } from '../support/server.ts';

/*
 * The audit log over Keyfactor's API, and its chain: rows edited, deleted or reordered directly
 * in the store (behind the server's back) are found by Validate and by `countersign audit verify`.
 */

const AUDIT_KEY = 'audit-test-key-0123456789';
let t: TestApp;
let dir: string;
let url: string;
let alice: { id: number; auth: string };
let auditor: { id: number; auth: string };

/** Runs SQL on the test app's own database, as someone with write access to it would. */
async function sql(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  if (usePostgres()) {
    const c = await connectTo(url);
    let n = 0;
    try {
      return (
        await c.query(
          text.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows;
    } finally {
      await c.end();
    }
  }
  const db = new Database(url.slice('sqlite:'.length));
  try {
    const st = db.prepare(text);
    return st.reader ? (st.all(...params) as Record<string, unknown>[]) : (st.run(...params), []);
  } finally {
    db.close();
  }
}

const CONTENT = ['at', 'category', 'operation', 'level', 'actor', 'entity_type', 'audit_identifier', 'immutable_identifier', 'message', 'data', 'hash', 'signature'];

/** Moves entry a's stored row to b's place and b's to a's: reordering, as UPDATEs can do it. */
async function swapRows(a: number, b: number): Promise<void> {
  const [ra] = await sql(`SELECT ${CONTENT.join(', ')} FROM audit_log WHERE id = ?`, [a]);
  const [rb] = await sql(`SELECT ${CONTENT.join(', ')} FROM audit_log WHERE id = ?`, [b]);
  const set = CONTENT.map((c) => `${c} = ?`).join(', ');
  await sql(`UPDATE audit_log SET ${set} WHERE id = ?`, [...CONTENT.map((c) => rb![c]), a]);
  await sql(`UPDATE audit_log SET ${set} WHERE id = ?`, [...CONTENT.map((c) => ra![c]), b]);
}

const ids = async (): Promise<number[]> =>
  (await t.call('GET', '/KeyfactorAPI/Audit?ReturnLimit=1000&SortAscending=0', { auth: auditor.auth })).body.map((e: { Id: number }) => e.Id);
const validate = async (id: number) => t.call('GET', `/KeyfactorAPI/Audit/${id}/Validate`, { auth: auditor.auth });

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { PATH: process.env.PATH, DATABASE_URL: url, COUNTERSIGN_AUDIT_KEY: AUDIT_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-audit-'));
  url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'audit.db')}`;
  t = await startTestApp({ databaseUrl: url, auditKey: AUDIT_KEY });
  const store = t.server.services.store;
  alice = await createUser(store, 'CORP\\alice');
  auditor = await createUser(store, 'CORP\\auditor');
  const approvers = await createRole(store, 'Approvers', [P.instancesReadPending], [alice.id]);
  await createRole(store, 'Auditors', [P.auditRead], [auditor.id]);
  // Security-relevant events through the API: a role change, a definition published, a start, a signal, a failed sign-in.
  const role = await t.call('POST', '/KeyfactorAPI/Security/Roles', {
    body: { Name: 'Readers', Description: 'read', Permissions: ['WorkflowInstances:ReadAll'] },
    unchecked: true,
  });
  expect(role.status).toBeLessThan(300);
  const def = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers]), noop('EndNOOP')]);
  const id = await startInstance(t, def);
  const signalled = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, {
    auth: alice.auth,
    body: { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true, Comment: 'ok' } },
  });
  expect(signalled.status).toBe(204);
  expect((await t.call('GET', '/KeyfactorAPI/Workflow/Definitions', { auth: basic('CORP\\alice', 'wrong') })).status).toBe(401);
  await t.server.audit.flush();
});

afterAll(async () => {
  await t.close();
  if (usePostgres()) await dropTestDatabase(url);
  rmSync(dir, { recursive: true, force: true });
});

describe('the audit API', () => {
  it('lists the security-relevant events in Keyfactor shape (validated against the contract)', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Audit?ReturnLimit=100', { auth: auditor.auth });
    expect(res.status).toBe(200);
    const messages = res.body.map((e: { Message: string }) => e.Message).join('\n');
    expect(messages).toContain('Role Readers created by admin');
    expect(messages).toMatch(/version 1 published by admin/);
    expect(messages).toMatch(/CORP\\alice sent RequireApproval1\.ApprovalStatus to workflow instance .* \(Approved: ok\); it is now Complete/);
    expect(messages).toContain('Failed sign-in as CORP\\alice');
    // Newest first by default.
    const listed = res.body.map((e: { Id: number }) => e.Id);
    expect(listed).toEqual([...listed].sort((a: number, b: number) => b - a));
    // The published contract declares no body for this 200; we answer the entry (docs/compatibility.md).
    const one = await t.call('GET', `/KeyfactorAPI/Audit/${listed[0]}`, { auth: auditor.auth, unchecked: true });
    expect(one.body.Id).toBe(listed[0]);
    expect(one.body.Signature).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{64}$/);
  });

  it('filters with the QueryString language and needs AuditLog:Read', async () => {
    const logins = await t.call('GET', '/KeyfactorAPI/Audit?QueryString=Category%20-eq%205', { auth: auditor.auth });
    expect(logins.body.length).toBeGreaterThan(0);
    expect(logins.body.every((e: { Category: number }) => e.Category === 5)).toBe(true);
    expect((await t.call('GET', '/KeyfactorAPI/Audit', { auth: alice.auth })).status).toBe(403);
    expect((await t.call('GET', '/KeyfactorAPI/Audit/999999', { auth: auditor.auth })).status).toBe(404);
    expect((await t.call('GET', '/KeyfactorAPI/Audit/abc', { auth: auditor.auth })).status).toBe(400);
  });

  it('downloads the log as CSV text with formulas neutralised', async () => {
    const res = await t.call('GET', '/KeyfactorAPI/Audit/Download', { auth: auditor.auth });
    expect(res.status).toBe(200);
    const text = res.body as string;
    expect(text.split('\r\n')[0]).toBe('Id,Timestamp,Category,Operation,Level,User,EntityType,AuditIdentifier,ImmutableIdentifier,Message,Signature');
    expect(text.split('\r\n').length).toBe((await ids()).length + 1);
  });
});

describe('the audit log under load', () => {
  it('events that queue while a batch is written go together in one transaction, in emit order, chained', async () => {
    const store = t.server.services.store;
    const append = store.appendAudit.bind(store);
    const batches: number[] = [];
    store.appendAudit = (contents, seal) => {
      batches.push(contents.length);
      return append(contents, seal);
    };
    try {
      const written = await Promise.all(Array.from({ length: 120 }, (_, i) => t.server.audit.record('role.created', { name: `Burst ${i}`, by: 'admin' })));
      // The first event is written alone; the 119 that queued meanwhile share one transaction.
      expect(batches).toEqual([1, 119]);
      const entryIds = written.map((e) => e!.id);
      expect(entryIds).toEqual([...entryIds].sort((a, b) => a - b));
      expect(written.map((e) => e!.message)).toEqual(Array.from({ length: 120 }, (_, i) => `Role Burst ${i} created by admin.`));
      for (const id of [entryIds[0]!, entryIds[1]!, entryIds[119]!]) expect((await validate(id)).body).toBe(true);
    } finally {
      store.appendAudit = append;
    }
  });
});

describe('entries written in the action transaction (the audit outbox)', () => {
  it('start, reassign, migrate, restart, stop and delete each commit their entry with the action: sealed later, none is missing, in order', { timeout: 60_000 }, async () => {
    const store = t.server.services.store;
    const approvers = await createRole(store, 'Outbox approvers', [P.instancesReadPending], [alice.id]);
    const def = await publishedDefinition(t, [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers]), noop('EndNOOP')]);
    const waitingBefore = await store.countAuditOutbox();
    const sealOutbox = store.sealAuditOutbox.bind(store);
    // The sealer is down (as if the node died right after answering): the actions still succeed,
    // and their entries wait in the outbox, committed with them.
    store.sealAuditOutbox = async () => {
      throw new Error('sealer down');
    };
    let id: string;
    let restartedAs: string;
    try {
      id = await startInstance(t, def);
      expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Reassign`, { body: { RoleIds: [approvers] }, unchecked: true })).status).toBe(204);
      // A second version (same steps), and the instance moved to it.
      const steps = [noop('StartNOOP', 'RequireApproval1'), approval('RequireApproval1', 'EndNOOP', [approvers]), noop('EndNOOP')];
      expect((await t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${def}/Steps`, { body: steps })).status).toBe(200);
      expect((await t.call('POST', `/KeyfactorAPI/Workflow/Definitions/${def}/Publish`)).status).toBe(200);
      expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Migrate`, { body: {}, unchecked: true })).status).toBe(200);
      const restarted = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Restart`);
      expect(restarted.status).toBe(204);
      restartedAs = restarted.headers.get('location')!.split('/').pop()!;
      expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${restartedAs}/Stop`)).status).toBe(204);
      expect((await t.call('DELETE', `/KeyfactorAPI/Workflow/Instances/${restartedAs}`)).status).toBe(204);
      await t.server.audit.flush();
      const meanwhile = (await t.call('GET', '/KeyfactorAPI/Audit?ReturnLimit=1000', { auth: auditor.auth })).body.map((e: { Message: string }) => e.Message).join('\n');
      expect(meanwhile).not.toContain(`Workflow instance ${id} started`);
      expect(meanwhile).not.toContain(`Workflow instance ${restartedAs} deleted`);
      // verify says the six entries wait to be sealed; the chain itself is intact (exit 0).
      const json = await cli(['audit', 'verify', '--json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ firstBad: null, waitingToBeSealed: waitingBefore + 6 });
      const text = await cli(['audit', 'verify']);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('Audit chain intact');
      expect(text.stdout).toContain(`${waitingBefore + 6} entries waiting to be sealed (written with their actions; sealed within seconds by a running server).`);
    } finally {
      store.sealAuditOutbox = sealOutbox;
    }
    await t.server.audit.sealNow();
    const all = (await t.call('GET', '/KeyfactorAPI/Audit?ReturnLimit=1000&SortAscending=0', { auth: auditor.auth })).body as { Id: number; Message: string }[];
    const entries = all.filter((e) => e.Message.includes(id) || e.Message.includes(restartedAs));
    expect(entries.map((e) => e.Message)).toEqual([
      `Workflow instance ${id} started by admin.`,
      `Workflow instance ${id} step RequireApproval1 reassigned to roles ${approvers} by admin.`,
      `Workflow instance ${id} moved from version 1 to 2; it is now Suspended by admin.`,
      `Workflow instance ${id} restarted as ${restartedAs} on version 2 by admin.`,
      `Workflow instance ${restartedAs} stopped by admin.`,
      `Workflow instance ${restartedAs} deleted by admin.`,
    ]);
    for (const e of entries) expect((await validate(e.Id)).body).toBe(true);
    // Sealed once: the outbox is empty.
    expect(await store.countAuditOutbox()).toBe(0);
    expect(await store.sealAuditOutbox(100, () => ({ hash: 'x', signature: 'x' }))).toEqual([]);
  });
});

describe('tampering behind the server', { timeout: 120_000 }, () => {
  it('every entry validates, and the CLI finds the chain intact', async () => {
    for (const id of await ids()) expect((await validate(id)).body).toBe(true);
    const ok = await cli(['audit', 'verify', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ firstBad: null, checked: (await ids()).length, waitingToBeSealed: 0 });
    // Nothing waiting: no line about it.
    expect((await cli(['audit', 'verify'])).stdout).not.toContain('waiting');
  });

  it('an edited row fails Validate at that entry, and verify names it', async () => {
    const all = await ids();
    const k = all[2]!;
    await sql("UPDATE audit_log SET message = 'nothing happened' WHERE id = ?", [k]);
    const v = await validate(k);
    expect(v.body).toBe(false);
    expect(v.headers.get('x-countersign-audit-problem')).toContain(`entry ${k}`);
    expect((await validate(all[1]!)).body).toBe(true);
    const broken = await cli(['audit', 'verify', '--json']);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout).firstBad.id).toBe(k);
  });

  it('a deleted row is found at the entry after it; reordered rows at the first moved one', async () => {
    const all = await ids();
    const [a, b, c] = [all[4]!, all[5]!, all[6]!];
    await sql('DELETE FROM audit_log WHERE id = ?', [a]);
    expect((await validate(b)).body).toBe(false);
    await swapRows(b, c);
    expect((await validate(b)).body).toBe(false);
    expect((await validate(c)).body).toBe(false);
    const report = JSON.parse((await cli(['audit', 'verify', '--json'])).stdout);
    // The first break in id order is still the edit made above.
    expect(report.firstBad.id).toBeLessThan(b);
  });
});
