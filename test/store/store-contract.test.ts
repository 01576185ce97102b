import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFINITION_FIELDS, INSTANCE_FIELDS } from '../../src/store/query-fields.ts';
import { ROLE_FIELDS } from '../../src/store/query-fields.ts';
import type { Effect, Transition } from '../../src/domain/engine.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import { bindQuery, parseQuery, type FieldSpec } from '../../src/domain/query/index.ts';
import type { Definition, DefinitionVersion, HistoryEntry, Instance } from '../../src/domain/types.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../../src/security/permission-set.ts';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { InstanceQuery, Store } from '../../src/store/store.ts';
import { errorOf, forEachStore } from '../support/stores.ts';

/*
 * One set of cases, run against both stores: whatever the engine can observe through the Store
 * port must be the same on SQLite and PostgreSQL.
 */


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const T0 = '2025-03-01T10:00:00.000Z';

function definition(over: Partial<Definition> = {}): Definition {
  return {
    id: randomUUID(),
    displayName: 'Def',
    description: null,
    workflowType: 'Enrollment',
    keys: [{ value: 'tmpl', displayName: null }],
    enabled: true,
    draftVersion: 1,
    publishedVersion: null,
    createdAt: T0,
    lastModified: T0,
    ...over,
  };
}

const version = (def: Definition, v = 1): DefinitionVersion => ({ definitionId: def.id, version: v, steps: [], frozen: false });

function instance(ref: number, over: Partial<Instance> = {}): Instance {
  return {
    id: randomUUID(),
    referenceId: ref,
    definitionId: 'def-1',
    definitionVersion: 1,
    definitionName: 'Def',
    workflowType: 'Enrollment',
    status: 'Suspended',
    statusMessage: 'Waiting',
    currentStep: 'Approve',
    currentStepId: 'step-1',
    currentStepDisplayName: 'Approve',
    title: 'Request',
    initiatorId: 1,
    initiatorName: 'alice',
    initialData: { cn: 'www.example.com' },
    stateData: {},
    metadata: {},
    signals: [],
    pendingRoleIds: [7],
    pendingExcludedIds: [],
    trustedData: {},
    stepOutputs: { variables: {}, metadata: {} },
    startDate: T0,
    lastModified: T0,
    restartedFrom: null,
    restartedTo: null,
    rev: 0,
    ...over,
  };
}

const note = (message: string, at = T0): HistoryEntry => ({ at, kind: 'StepEntered', step: 'Approve', actor: null, message, data: { n: 1 } });

const started = (inst: Instance, effects: Effect[] = []): Transition => ({ instance: inst, history: [note('started', inst.startDate)], effects });

const runStep = (instanceId: string): Effect => ({ type: 'runStep', instanceId, step: 'Auto', stepId: 'step-2' });

const bound = (text: string, fields: FieldSpec[]) => bindQuery(parseQuery(text), fields);

const query = (over: Partial<InstanceQuery> = {}): InstanceQuery => ({ filter: null, limit: 100, offset: 0, sortColumn: 'reference_id', ascending: true, ...over });

forEachStore('Store contract', (current, kind) => {
  {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    const create = (over: Partial<Instance> = {}, effects?: (id: string) => Effect[]) =>
      store.createInstance((ref) => {
        const inst = instance(ref, over);
        return started(inst, effects?.(inst.id));
      });

    describe('definitions', () => {
      it('inserts, reads and updates a definition with its versions', async () => {
        const def = definition({ description: 'first' });
        await store.insertDefinition(def, version(def));
        expect(await store.getDefinition(def.id)).toEqual(def);
        expect(await store.getVersion(def.id, 1)).toEqual(version(def));
        const next = await store.updateDefinition(def.id, (d, latest) => {
          expect(latest).toEqual(version(def));
          const changed = { ...d, draftVersion: 2, publishedVersion: 1, lastModified: '2025-03-02T00:00:00.000Z' };
          return { definition: changed, version: { ...version(def, 2), steps: [] }, result: changed };
        });
        expect(await store.getDefinition(def.id)).toEqual(next);
        expect(await store.listVersions(def.id)).toEqual([1, 2]);
        expect(await store.findBoundDefinition('enrollment', 'tmpl')).toEqual(next);
        expect(await store.findBoundDefinition('Enrollment', 'other')).toBeNull();
      });

      it('refuses a second enabled definition on the same (type, key) with DefinitionBindingTaken', async () => {
        const first = definition();
        await store.insertDefinition(first, version(first));
        const clash = definition();
        const e = await errorOf(store.insertDefinition(clash, version(clash)));
        expect(e.errorName).toBe('DefinitionBindingTaken');
        expect(e.message).toContain(first.id);
        // Nothing of the refused insert remains.
        expect(await store.getDefinition(clash.id)).toBeNull();
        // Disabled, it may exist; enabling it clashes and changes nothing.
        const disabled = definition({ enabled: false });
        await store.insertDefinition(disabled, version(disabled));
        const e2 = await errorOf(store.updateDefinition(disabled.id, (d) => ({ definition: { ...d, enabled: true, displayName: 'renamed' }, result: null })));
        expect(e2.errorName).toBe('DefinitionBindingTaken');
        expect(await store.getDefinition(disabled.id)).toEqual(disabled);
        // Once the first is disabled the binding is free.
        await store.updateDefinition(first.id, (d) => ({ definition: { ...d, enabled: false }, result: null }));
        await store.updateDefinition(disabled.id, (d) => ({ definition: { ...d, enabled: true }, result: null }));
        expect((await store.getDefinition(disabled.id))!.enabled).toBe(true);
      });

      it('refuses concurrent enables of two definitions on one binding: exactly one wins', async () => {
        const a = definition({ enabled: false });
        const b = definition({ enabled: false });
        await store.insertDefinition(a, version(a));
        await store.insertDefinition(b, version(b));
        const enable = (id: string) => store.updateDefinition(id, (d) => ({ definition: { ...d, enabled: true }, result: id }));
        const results = await Promise.allSettled([enable(a.id), enable(b.id)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect((lost.reason as CountersignError).errorName).toBe('DefinitionBindingTaken');
      });

      it('NotFound for an unknown definition; delete is guarded by the count of active instances', async () => {
        expect((await errorOf(store.updateDefinition(randomUUID(), (d) => ({ definition: d, result: null })))).errorName).toBe('NotFound');
        const def = definition();
        await store.insertDefinition(def, version(def));
        await create({ definitionId: def.id });
        await create({ definitionId: def.id, status: 'Complete' });
        let seen = -1;
        const e = await errorOf(
          store.deleteDefinition(def.id, (n) => {
            seen = n;
            throw new CountersignError('DefinitionInUse', 'in use');
          }),
        );
        expect([seen, e.errorName]).toEqual([1, 'DefinitionInUse']);
        expect(await store.getDefinition(def.id)).not.toBeNull();
        await store.deleteDefinition(def.id, () => {});
        expect(await store.getDefinition(def.id)).toBeNull();
        expect(await store.getVersion(def.id, 1)).toBeNull();
        expect(await store.findBoundDefinition('Enrollment', 'tmpl')).toBeNull();
      });

      it('lists definitions through compiled queries (booleans, strings, integers)', async () => {
        const published = definition({ displayName: 'Alpha', publishedVersion: 1, keys: [{ value: 'k1', displayName: null }] });
        const draft = definition({ displayName: 'beta', enabled: false, keys: [] });
        await store.insertDefinition(published, version(published));
        await store.insertDefinition(draft, version(draft));
        const list = (text: string) => store.listDefinitions({ filter: bound(text, DEFINITION_FIELDS), limit: 50, offset: 0, sortColumn: 'display_name', ascending: true });
        expect((await list('IsPublished -eq true')).map((d) => d.displayName)).toEqual(['Alpha']);
        expect((await list('Enabled -eq false')).map((d) => d.displayName)).toEqual(['beta']);
        expect((await list('DisplayName -contains "ET"')).map((d) => d.displayName)).toEqual(['beta']);
        expect((await list('Key -eq "K1"')).map((d) => d.displayName)).toEqual(['Alpha']);
        expect((await list('Key -eq NULL')).map((d) => d.displayName)).toEqual(['beta']);
        expect((await list(`Id -eq "${published.id.toUpperCase()}"`)).map((d) => d.displayName)).toEqual(['Alpha']);
        expect((await list('DraftVersion -ge 1')).map((d) => d.displayName)).toEqual(['Alpha', 'beta']);
      });
    });

    describe('instances', () => {
      it('assigns increasing reference ids and records the start history', async () => {
        const a = await create();
        const b = await create();
        expect(b.referenceId).toBeGreaterThan(a.referenceId);
        expect(a.rev).toBe(1);
        expect(await store.getInstance(a.id)).toEqual(a);
        expect(await store.getHistory(a.id)).toEqual([note('started')]);
        expect(await store.getInstance(randomUUID())).toBeNull();
      });

      it('serialises mutateInstance: 50 concurrent increments end at 50', async () => {
        const inst = await create({ stateData: { counter: 0 } });
        const bump = () =>
          store.mutateInstance(inst.id, (cur) => {
            const next = { ...cur, stateData: { counter: (cur.stateData.counter as number) + 1 } };
            return { transition: { instance: next, history: [note(`to ${next.stateData.counter}`)], effects: [] }, result: next.stateData.counter };
          });
        const results = await Promise.all(Array.from({ length: 50 }, bump));
        expect([...results].sort((x, y) => (x as number) - (y as number))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        const after = await store.getInstance(inst.id);
        expect(after!.stateData.counter).toBe(50);
        expect(after!.rev).toBe(51);
        const history = await store.getHistory(inst.id);
        expect(history.slice(1).map((h) => h.message)).toEqual(Array.from({ length: 50 }, (_, i) => `to ${i + 1}`));
      });

      it('writes nothing when fn throws, nothing for a null transition, NotFound for an unknown id', async () => {
        const inst = await create();
        const e = await errorOf(
          store.mutateInstance(inst.id, () => {
            throw new CountersignError('InstanceWrongState', 'no');
          }),
        );
        expect(e.errorName).toBe('InstanceWrongState');
        expect(await store.mutateInstance(inst.id, () => ({ transition: null, result: 'same' }))).toBe('same');
        expect(await store.getInstance(inst.id)).toEqual(inst);
        const nf = await errorOf(store.mutateInstance(randomUUID(), () => ({ transition: null, result: null })));
        expect(nf.errorName).toBe('NotFound');
      });

      it('spawns the restarted instance in the same transaction', async () => {
        const old = await create();
        const newId = randomUUID();
        await store.mutateInstance(old.id, (cur) => ({
          transition: { instance: { ...cur, status: 'CanceledForRestart', restartedTo: newId }, history: [], effects: [] },
          spawn: (ref) => started(instance(ref, { id: newId, restartedFrom: old.id })),
          result: null,
        }));
        const spawned = await store.getInstance(newId);
        expect(spawned).toMatchObject({ restartedFrom: old.id, status: 'Suspended' });
        expect(spawned!.referenceId).toBeGreaterThan(old.referenceId);
        expect((await store.getInstance(old.id))!.restartedTo).toBe(newId);
        // A spawn that throws takes the cancellation with it.
        const other = await create();
        await errorOf(
          store.mutateInstance(other.id, (cur) => ({
            transition: { instance: { ...cur, status: 'CanceledForRestart' }, history: [], effects: [] },
            spawn: () => {
              throw new CountersignError('DefinitionInvalid', 'no start step');
            },
            result: null,
          })),
        );
        expect((await store.getInstance(other.id))!.status).toBe('Suspended');
      });

      it('deletes an instance with its history and jobs; the guard may veto', async () => {
        const inst = await create({}, (id) => [runStep(id)]);
        const e = await errorOf(
          store.deleteInstance(inst.id, () => {
            throw new CountersignError('InstanceNotTerminal', 'running');
          }),
        );
        expect(e.errorName).toBe('InstanceNotTerminal');
        await store.deleteInstance(inst.id, () => {});
        expect(await store.getInstance(inst.id)).toBeNull();
        expect(await store.getHistory(inst.id)).toEqual([]);
        expect(await store.claimJobs('a', 10, 10_000)).toEqual([]);
      });

      it('lists reconcile candidates: Suspended instances holding signals', async () => {
        const signal = { step: 'Approve', signal: 'ApprovalStatus', identityId: 1, accountName: 'alice', data: { Approved: true }, at: T0 };
        const holding = await create({ signals: [signal] });
        await create();
        await create({ status: 'Complete', signals: [signal] });
        expect(await store.listReconcileCandidates(10)).toEqual([holding.id]);
      });
    });

    describe('queries', () => {
      let ids: Record<string, Instance>;
      beforeEach(async () => {
        ids = {
          a: await create({ title: 'Web server cert', startDate: '2025-01-10T08:00:00.000Z', status: 'Suspended' }),
          b: await create({ title: 'VPN gateway', startDate: '2025-01-11T23:59:59.999Z', status: 'Complete', initiatorId: 2 }),
          c: await create({ title: null, startDate: '2025-01-12T00:00:00.000Z', status: 'Failed' }),
        };
      });
      const titles = async (text: string, over: Partial<InstanceQuery> = {}) =>
        (await store.queryInstances(query({ filter: text ? bound(text, INSTANCE_FIELDS) : null, ...over }))).map((i) => i.title);

      it('Status enum by name and number', async () => {
        expect(await titles('Status -eq "Suspended"')).toEqual(['Web server cert']);
        expect(await titles('Status -eq 3')).toEqual(['VPN gateway']);
        expect(await titles('Status -ne Suspended')).toEqual(['VPN gateway', null]);
      });

      it('Title contains (case-insensitive, LIKE characters literal), NULL handling', async () => {
        expect(await titles('Title -contains "SERVER"')).toEqual(['Web server cert']);
        expect(await titles('Title -contains "%"')).toEqual([]);
        expect(await titles('Title -notcontains "server"')).toEqual(['VPN gateway', null]);
        expect(await titles('Title -eq NULL')).toEqual([null]);
        expect(await titles('Title -startswith "vpn" OR Title -endswith "CERT"')).toEqual(['Web server cert', 'VPN gateway']);
      });

      it('dates: whole days and instants', async () => {
        expect(await titles('StartDate -eq 2025-01-11')).toEqual(['VPN gateway']);
        expect(await titles('StartDate -ge 2025-01-11')).toEqual(['VPN gateway', null]);
        expect(await titles('StartDate -lt 2025-01-11T23:59:59.999Z')).toEqual(['Web server cert']);
        expect(await titles('StartDate -gt "2025-01-11T23:00:00+01:00"')).toEqual(['VPN gateway', null]);
      });

      it('sorting (NULLs first ascending), paging, My and AssignedToMe', async () => {
        expect(await titles('', { sortColumn: 'title', ascending: true })).toEqual([null, 'VPN gateway', 'Web server cert']);
        expect(await titles('', { sortColumn: 'title', ascending: false })).toEqual(['Web server cert', 'VPN gateway', null]);
        expect(await titles('', { sortColumn: 'start_date', ascending: false, limit: 1, offset: 1 })).toEqual(['VPN gateway']);
        expect(await titles('', { initiatorId: 2 })).toEqual(['VPN gateway']);
        expect(await titles('', { assignedTo: { identityId: 5, roleIds: [7, 8] } })).toEqual(['Web server cert']);
        expect(await titles('', { assignedTo: { identityId: 5, roleIds: [8] } })).toEqual([]);
        expect(await titles('', { assignedTo: { identityId: 5, roleIds: [] } })).toEqual([]);
        const signal = { step: 'Approve', signal: 'ApprovalStatus', identityId: 5, accountName: 'e', data: { Approved: true }, at: T0 };
        await store.mutateInstance(ids.a!.id, (cur) => ({ transition: { instance: { ...cur, signals: [signal] }, history: [], effects: [] }, result: null }));
        expect(await titles('', { assignedTo: { identityId: 5, roleIds: [7] } })).toEqual([]);
        expect(await titles('', { assignedTo: { identityId: 6, roleIds: [7] } })).toEqual(['Web server cert']);
      });

      it('values never become SQL', async () => {
        expect(await titles(`Title -eq "x' OR 1=1 --"`)).toEqual([]);
      });
    });

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
  }
});
