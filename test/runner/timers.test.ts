import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { until } from '../support/until.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/** Timers are jobs in the store: they survive restarts and fire once across several server processes. */

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const historyOf = async (t: TestApp, id: string) => (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body;

async function sharedDatabase(postgres: boolean): Promise<string> {
  if (postgres) {
    const url = await testDatabaseUrl();
    cleanups.push(() => dropTestDatabase(url));
    return url;
  }
  const dir = mkdtempSync(join(tmpdir(), 'countersign-timers-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, 'timers.db')}`;
}

async function timedDefinition(t: TestApp, config: Record<string, unknown>): Promise<string> {
  const store = t.server.services.store;
  const u = await createUser(store, `CORP\\u${Math.random().toString(36).slice(2, 8)}`);
  const role = await createRole(store, `R${Math.random().toString(36).slice(2, 8)}`, [P.instancesReadPending], [u.id]);
  return publishedDefinition(t, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role], config), noop('EndNOOP')]);
}

describe('durable timers', () => {
  it('a timeout set before a restart fires after it, once', async () => {
    const databaseUrl = await sharedDatabase(usePostgres());
    const first = await startTestApp({ databaseUrl });
    const def = await timedDefinition(first, { TimeoutAfter: 'PT2S', TimeoutAction: 'Deny' });
    const id = await startInstance(first, def);
    await first.close();
    // Down while the timer comes due.
    await new Promise((r) => setTimeout(r, 2500));
    const second = await startTestApp({ databaseUrl });
    cleanups.push(() => second.close());
    const inst = await until(async () => {
      const b = await historyOf(second, id);
      return b.Status === 4 && b;
    });
    expect(inst.StatusMessage).toMatch(/denied automatically/);
    expect(inst.History.filter((h: any) => h.Kind === 'TimedOut')).toHaveLength(1);
  });

  it('three server processes on one PostgreSQL database: each timer fires once', async () => {
    const databaseUrl = await sharedDatabase(true);
    const nodes: TestApp[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await startTestApp({ databaseUrl }));
    cleanups.push(async () => {
      for (const n of nodes) await n.close();
    });
    const def = await timedDefinition(nodes[0], { ReminderInterval: 'PT1S', EscalateAfter: 'PT1S', TimeoutAfter: 'PT3S', TimeoutAction: 'Fail' });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await startInstance(nodes[i % 3], def));
    for (const id of ids) {
      const inst = await until(async () => {
        const b = await historyOf(nodes[0], id);
        return b.Status === 5 && b;
      });
      const kinds = inst.History.map((h: any) => h.Kind);
      expect(kinds.filter((k: string) => k === 'TimedOut')).toHaveLength(1);
      expect(kinds.filter((k: string) => k === 'Escalated')).toHaveLength(1);
      // Reminders every second for three seconds: two or three, never one per node per tick.
      const reminders = kinds.filter((k: string) => k === 'Reminded').length;
      expect(reminders).toBeGreaterThanOrEqual(1);
      expect(reminders).toBeLessThanOrEqual(3);
    }
  });
});
