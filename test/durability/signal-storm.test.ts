import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { AuditLog } from '../../src/service/audit.ts';
import { openStore } from '../../src/store/open.ts';
import { startChildServer } from '../support/child-server.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { approval, createRole, createUser, noop } from '../support/fixtures.ts';
import { ADMIN, basic, makeCaller, startTestApp } from '../support/server.ts';

/*
 * Never lose an acknowledged decision (issue 16). A real server process takes a storm of
 * approvals and is killed with SIGKILL in the middle of it; started again on the same database,
 * every signal it answered 204 to is there, with its audit entry. And the durability setting in force is the one the
 * configuration asks for, read back from the database connection of a running server.
 */

const INSTANCES = 120;
const CLIENTS = 16;
/** Acknowledgements to wait for before the kill: the storm is in full flow by then. */
const KILL_AFTER = 30;

let dir: string;
let url: string;
const running: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const s = await startChildServer<{ url: string }>('test/runner/server-process.ts', { PATH: process.env.PATH ?? '/usr/bin:/bin' }, { DATABASE_URL: url });
  running.push(s.child);
  return s;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-storm-'));
  url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'countersign.db')}`;
});
afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (usePostgres()) await dropTestDatabase(url);
  rmSync(dir, { recursive: true, force: true });
});

describe('durability', () => {
  it('SIGKILL during a signal storm loses no acknowledged signal, nor its audit entry', async () => {
    let server = await startServer();
    // The approver and its role, written beside the running server into the database it uses.
    const store = await openStore(url);
    const approver = await createUser(store, 'CORP\\approver');
    const role = await createRole(store, 'Approvers', [P.instancesReadPending], [approver.id]);
    await store.close();
    const admin = makeCaller(server.ready.url, basic(ADMIN.user, ADMIN.password));
    const created = await admin('POST', '/KeyfactorAPI/Workflow/Definitions', {
      body: { DisplayName: 'Storm', Description: 'durability', WorkflowType: 'Enrollment', Key: 'storm' },
    });
    const definitionId = created.body.Id as string;
    const steps = [noop('StartNOOP', 'Approve'), approval('Approve', 'EndNOOP', [role]), noop('EndNOOP')];
    expect((await admin('PUT', `/KeyfactorAPI/Workflow/Definitions/${definitionId}/Steps`, { body: steps })).status).toBe(200);
    expect((await admin('POST', `/KeyfactorAPI/Workflow/Definitions/${definitionId}/Publish`)).status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      const res = await admin('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: definitionId, Title: `storm ${i}`, InitialData: {} } });
      expect(res.status).toBe(201);
      ids.push(res.body.Id as string);
    }

    // The storm: CLIENTS clients approve one instance after another; the server dies mid-way.
    const acknowledged: string[] = [];
    let next = 0;
    let killed = false;
    const body = JSON.stringify({ SignalKey: 'Approve.ApprovalStatus', Data: { Approved: 'True', Comment: 'ok' } });
    const client = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          const res = await fetch(`${server.ready.url}/KeyfactorAPI/Workflow/Instances/${id}/Signals`, {
            method: 'POST',
            headers: { 'x-keyfactor-requested-with': 'APIClient', 'content-type': 'application/json', authorization: approver.auth },
            body,
          });
          if (res.status === 204) acknowledged.push(id);
          else await res.text();
        } catch {
          return; // the server is gone: this signal was never acknowledged
        }
        if (!killed && acknowledged.length >= KILL_AFTER) {
          killed = true;
          server.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    await server.exited;
    expect(killed).toBe(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);
    // The kill landed mid-storm: some instances never got their signal.
    expect(acknowledged.length).toBeLessThan(INSTANCES);

    server = await startServer();
    const again = makeCaller(server.ready.url, basic(ADMIN.user, ADMIN.password));
    const lost: string[] = [];
    for (const id of acknowledged) {
      const res = await again('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
      if (res.body.Status !== 3) lost.push(id);
    }
    expect(lost).toEqual([]);

    // ... and every acknowledged signal has its audit entry (written with the signal, in the audit
    // outbox; the restarted server seals what the killed one left), in a chain that verifies.
    const reader = await openStore(url);
    try {
      let missing: string[] = acknowledged;
      for (const until = Date.now() + 20_000; missing.length && Date.now() < until; await sleep(200)) {
        const signalled = new Set((await reader.auditEntriesAfter(0, 100_000)).filter((e) => e.immutableIdentifier === 'instance.signalled').map((e) => e.auditIdentifier));
        missing = acknowledged.filter((id) => !signalled.has(id));
      }
      expect(missing).toEqual([]);
      const key = await reader.getOrCreateSetting('audit_hmac_key', 'none yet');
      const report = await new AuditLog(reader, key).verify();
      expect(report.firstBad).toBeNull();
      expect(report.checked).toBeGreaterThanOrEqual(INSTANCES + acknowledged.length);
    } finally {
      await reader.close();
    }
    server.child.kill('SIGKILL');
    await server.exited;
  }, 180_000);

  it('a running server commits durably by default, and reports what `relaxed` trades away', async () => {
    const metric = async (durability?: 'full' | 'relaxed') => {
      const app = await startTestApp(durability ? { durability } : {});
      try {
        const res = await fetch(`${app.url}/metrics`);
        return (await res.text()).split('\n').find((l) => l.startsWith('countersign_store_durable_commits{'));
      } finally {
        await app.close();
      }
    };
    if (usePostgres()) {
      expect(await metric()).toBe('countersign_store_durable_commits{setting="synchronous_commit=on"} 1');
      expect(await metric('relaxed')).toBe('countersign_store_durable_commits{setting="synchronous_commit=off"} 0');
    } else {
      expect(await metric()).toBe('countersign_store_durable_commits{setting="synchronous=FULL"} 1');
      expect(await metric('relaxed')).toBe('countersign_store_durable_commits{setting="synchronous=NORMAL"} 0');
    }
  });
});
