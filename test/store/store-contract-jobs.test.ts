import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE_FIELDS, ROLE_FIELDS } from '../../src/store/query-fields.ts';
import type { Effect } from '../../src/domain/engine.ts';
import type { Instance } from '../../src/domain/types.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { Store } from '../../src/store/store.ts';
import { errorOf, forEachStore } from '../support/stores.ts';
import { sleep, T0, instance, note, started, runStep, bound, query, createIn } from './store-fixtures.ts';

/*
 * One set of cases, run against both stores: whatever the engine can observe through the Store
 * port must be the same on SQLite and PostgreSQL.
 */

forEachStore('Store contract (jobs, security)', (current, kind) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  const create = (over: Partial<Instance> = {}, effects?: (id: string) => Effect[]) => createIn(store, over, effects);

  describe('jobs', () => {
    it('claims with a lease; a second owner cannot claim a leased job; an expired lease is re-claimable', async () => {
      const inst = await create({ status: 'Running' }, (id) => [runStep(id)]);
      expect(await store.nextJobDelay()).toBe(0);
      const [job] = await store.claimJobs('node-a', 10, 60_000);
      expect(job).toMatchObject({ instanceId: inst.id, effect: runStep(inst.id), attempts: 1, lastError: null });
      expect(await store.claimJobs('node-b', 10, 60_000)).toEqual([]);
      expect(await store.nextJobDelay()).toBeGreaterThan(50_000);
      // node-a gives it back; then it is claimed with a short lease that runs out.
      expect(await store.releaseJob(job!.id, 'node-b', new Date(Date.now() - 1000).toISOString(), 'not mine')).toBe(false);
      expect(await store.releaseJob(job!.id, 'node-a', new Date(Date.now() - 1000).toISOString(), 'timeout')).toBe(true);
      const [again] = await store.claimJobs('node-a', 10, 150);
      expect(again).toMatchObject({ id: job!.id, attempts: 2, lastError: 'timeout' });
      expect(await store.claimJobs('node-b', 10, 60_000)).toEqual([]);
      await sleep(300);
      const [taken] = await store.claimJobs('node-b', 10, 60_000);
      expect(taken).toMatchObject({ id: job!.id, attempts: 3 });
    });

    it('claims due jobs in order, at most `limit`, each by one owner when owners race', async () => {
      for (let i = 0; i < 12; i++) await create({ status: 'Running' }, (id) => [runStep(id)]);
      const first = await store.claimJobs('x', 5, 60_000);
      expect(first).toHaveLength(5);
      expect(first.map((j) => j.id)).toEqual([...first.map((j) => j.id)].sort((a, b) => a - b));
      const raced = await Promise.all(['p', 'q', 'r', 's'].map((o) => store.claimJobs(o, 3, 60_000)));
      const ids = raced.flat().map((j) => j.id);
      expect(ids).toHaveLength(7);
      expect(new Set(ids).size).toBe(7);
      const later = await store.createInstance((ref) => started(instance(ref)));
      await store.releaseJob(first[0]!.id, 'x', new Date(Date.now() + 60_000).toISOString(), 'later');
      expect(await store.claimJobs('y', 10, 60_000)).toEqual([]);
      expect(later.id).toBeTruthy();
    });

    it('completeJob by a non-owner throws Conflict and writes nothing; by the owner deletes the job', async () => {
      const inst = await create({ status: 'Running' }, (id) => [runStep(id)]);
      const [job] = await store.claimJobs('node-a', 10, 100);
      await sleep(250);
      const [taken] = await store.claimJobs('node-b', 10, 60_000);
      expect(taken!.id).toBe(job!.id);
      const complete = (owner: string) =>
        store.mutateInstance(inst.id, (cur) => ({
          transition: { instance: { ...cur, status: 'Complete', stateData: { by: owner } }, history: [note(`done by ${owner}`)], effects: [] },
          completeJob: { id: job!.id, owner },
          result: owner,
        }));
      const e = await errorOf(complete('node-a'));
      expect(e.errorName).toBe('Conflict');
      expect(await store.getInstance(inst.id)).toEqual(inst);
      expect(await store.getHistory(inst.id)).toHaveLength(1);
      expect(await complete('node-b')).toBe('node-b');
      expect((await store.getInstance(inst.id))!.stateData).toEqual({ by: 'node-b' });
      expect(await store.nextJobDelay()).toBeNull();
      expect((await errorOf(complete('node-b'))).errorName).toBe('Conflict');
    });

    it('queues a timer for its time: not claimable before, and nextJobDelay says when', async () => {
      const at = new Date(Date.now() + 60_000).toISOString();
      await create({}, (id) => [{ type: 'timer', instanceId: id, step: 'Approve', kind: 'timeout', at }]);
      expect(await store.claimJobs('a', 10, 60_000)).toEqual([]);
      const delay = await store.nextJobDelay();
      expect(delay).toBeGreaterThan(55_000);
      expect(delay).toBeLessThanOrEqual(60_000);
    });

    it('queues jobs written by a mutation and by a spawn', async () => {
      const inst = await create();
      const spawnId = randomUUID();
      await store.mutateInstance(inst.id, (cur) => ({
        transition: { instance: { ...cur, status: 'Running' }, history: [], effects: [runStep(cur.id)] },
        spawn: (ref) => started(instance(ref, { id: spawnId }), [runStep(spawnId)]),
        result: null,
      }));
      const claimed = await store.claimJobs('a', 10, 60_000);
      expect(claimed.map((j) => j.instanceId).sort()).toEqual([inst.id, spawnId].sort());
    });
  });

  describe('security', () => {
    const user = (accountName: string) => ({ accountName, identityType: 'User' as const, sid: null, email: null, passwordHash: 'scrypt$x', createdAt: T0 });
    const role = (name: string, over = {}) => ({
      name,
      description: `${name} role`,
      email: null,
      enabled: true,
      private: false,
      immutable: false,
      permissions: ['/workflows/instances/read/'],
      permissionSetId: GLOBAL_PERMISSION_SET_ID,
      identityIds: [] as number[],
      claims: [] as { claimType: number; claimValue: string; providerScheme: string; description: string }[],
      ...over,
    });

    it('identities: create, find case-insensitively, IdentityExists, sort like NOCASE', async () => {
      const a = await store.createIdentity(user('CORP\\Alice'));
      await store.createIdentity(user('bob'));
      expect(await store.getIdentity(a.id)).toEqual(a);
      expect((await store.findIdentityByName('corp\\ALICE'))?.id).toBe(a.id);
      expect((await errorOf(store.createIdentity(user('corp\\alice')))).errorName).toBe('IdentityExists');
      const sorted = await store.listIdentities({ limit: 10, offset: 0, sortColumn: 'account_name', ascending: false });
      expect(sorted.map((i) => i.accountName)).toEqual(['CORP\\Alice', 'bob']);
      expect(await store.countIdentities()).toBe(2);
      expect(await store.getIdentity(9_007_199_254_740_991)).toBeNull();
    });

    it('roles: members, claims, rolesOfIdentity, Conflict on a taken name, generation bumps', async () => {
      const alice = await store.createIdentity(user('CORP\\alice'));
      const g0 = await store.securityGeneration();
      const direct = await store.createRole(role('Direct', { identityIds: [alice.id, alice.id] }));
      const claimed = await store.createRole(role('Claimed', { claims: [{ claimType: 0, claimValue: 'corp\\ALICE', providerScheme: 'Countersign', description: '' }] }));
      await store.createRole(role('Group', { claims: [{ claimType: 1, claimValue: 'CORP\\alice', providerScheme: 'x', description: '' }] }));
      expect(await store.securityGeneration()).toBe(g0 + 3);
      expect(direct.identityIds).toEqual([alice.id]);
      expect((await store.rolesOfIdentity(alice)).map((r) => r.id)).toEqual([direct.id, claimed.id]);
      expect((await errorOf(store.createRole(role('DIRECT')))).errorName).toBe('Conflict');
      expect((await errorOf(store.createRole(role('Bad', { identityIds: [4242] })))).errorName).toBe('RoleInvalid');
      expect(await store.securityGeneration()).toBe(g0 + 3);
      const listed = await store.listRoles({ filter: bound('Name -contains "i"', ROLE_FIELDS), limit: 10, offset: 0, sortColumn: 'name', ascending: true });
      expect(listed.map((r) => r.name)).toEqual(['Claimed', 'Direct']);
      expect(await store.existingRoleIds([direct.id, 99_999, direct.id])).toEqual(new Set([direct.id]));
      expect(await store.deleteIdentity(alice.id)).toBe(true);
      expect((await store.getRole(direct.id))!.identityIds).toEqual([]);
      expect(await store.securityGeneration()).toBe(g0 + 4);
    });
  });

  if (kind === 'postgres') {
    it('tryExclusive: one holder at a time per name', async () => {
      const pg = store as PostgresStore;
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = pg.tryExclusive('task', () => held);
      await sleep(50);
      expect(await pg.tryExclusive('task', async () => {})).toBe(false);
      expect(await pg.tryExclusive('other', async () => {})).toBe(true);
      release();
      expect(await first).toBe(true);
      expect(await pg.tryExclusive('task', async () => {})).toBe(true);
    });

    it("answers what PostgreSQL cannot store as the client's error, not a server error", async () => {
      const nul = await errorOf(create({ title: 'a\u0000b' }));
      expect([nul.errorName, nul.status]).toEqual(['ValidationFailed', 400]);
      expect((await errorOf(store.findIdentityByName('x\u0000'))).errorName).toBe('ValidationFailed');
      const year0 = await errorOf(store.queryInstances(query({ filter: bound('StartDate -lt 0000-06-01', INSTANCE_FIELDS) })));
      expect([year0.errorName, year0.status]).toEqual(['InvalidQuery', 400]);
    });

    it('onJobsQueued: a committed transaction that queued jobs notifies listeners', async () => {
      let calls = 0;
      const stop = (store as PostgresStore).onJobsQueued(() => calls++);
      await sleep(200); // the LISTEN connection is up
      await create();
      await sleep(100);
      expect(calls).toBe(0);
      await create({ status: 'Running' }, (id) => [runStep(id)]);
      for (let i = 0; i < 50 && calls === 0; i++) await sleep(20);
      expect(calls).toBe(1);
      stop();
    });
  }
});
