import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFINITION_FIELDS, INSTANCE_FIELDS } from '../../src/store/query-fields.ts';
import type { Effect } from '../../src/domain/engine.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import type { Instance } from '../../src/domain/types.ts';
import type { InstanceQuery, Store } from '../../src/store/store.ts';
import { errorOf, forEachStore } from '../support/stores.ts';
import { T0, definition, version, instance, note, started, runStep, bound, query, createIn } from './store-fixtures.ts';

/*
 * One set of cases, run against both stores: whatever the engine can observe through the Store
 * port must be the same on SQLite and PostgreSQL.
 */

forEachStore('Store contract', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  const create = (over: Partial<Instance> = {}, effects?: (id: string) => Effect[]) => createIn(store, over, effects);

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
});
