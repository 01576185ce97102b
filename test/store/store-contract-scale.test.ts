import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Effect } from '../../src/domain/engine.ts';
import type { Instance, RecordedSignal } from '../../src/domain/types.ts';
import type { Store } from '../../src/store/store.ts';
import { forEachStore } from '../support/stores.ts';
import { INSTANCE_FIELDS } from '../../src/store/query-fields.ts';
import { bound, createIn, note, query, T0 } from './store-fixtures.ts';

/*
 * Issue 16, on both stores: a step's timers go when the instance leaves the step, and
 * AssignedToMe (now read from the pending_roles / pending_barred tables) answers exactly what the
 * old scan of the instance rows answered.
 */

const timer = (instanceId: string, step: string, inMs = 3_600_000): Effect => ({
  type: 'timer',
  instanceId,
  step,
  kind: 'timeout',
  at: new Date(Date.now() + inMs).toISOString(),
});

/** The old AssignedToMe (the json scan both stores ran before), written out independently. */
function oldAssigned(i: Instance, identityId: number, roleIds: number[]): boolean {
  return (
    i.status === 'Suspended' &&
    i.pendingRoleIds.some((r) => roleIds.includes(r)) &&
    !i.signals.some((s) => s.identityId === identityId) &&
    !i.pendingExcludedIds.includes(identityId)
  );
}

const signal = (identityId: number): RecordedSignal => ({ step: 'Approve', signal: 'Approved', identityId, accountName: `u${identityId}`, data: {}, at: T0 });

forEachStore('Store contract (scale)', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  const move = (id: string, over: Partial<Instance>, effects: (id: string) => Effect[] = () => []) =>
    store.mutateInstance(id, (cur) => ({ transition: { instance: { ...cur, ...over }, history: [note('moved')], effects: effects(id) }, result: null }));

  describe('timers of a step', () => {
    it('are deleted when the instance moves to another step; the new step keeps its own', async () => {
      const inst = await createIn(store, { status: 'Suspended', currentStep: 'Approve' }, (id) => [timer(id, 'Approve')]);
      expect(await store.nextJobDelay()).toBeGreaterThan(3_000_000);
      await move(inst.id, { currentStep: 'Second' }, (id) => [timer(id, 'Second', 7_200_000)]);
      const delay = await store.nextJobDelay();
      expect(delay).toBeGreaterThan(7_000_000);
    });

    it('are deleted when the instance completes, and stay while it waits at the same step', async () => {
      const inst = await createIn(store, { status: 'Suspended', currentStep: 'Approve' }, (id) => [timer(id, 'Approve')]);
      await move(inst.id, { signals: [signal(5)] });
      expect(await store.nextJobDelay()).not.toBeNull();
      await move(inst.id, { status: 'Complete', signals: [], pendingRoleIds: [] });
      expect(await store.nextJobDelay()).toBeNull();
    });

    it('other jobs of the instance and other instances are untouched; a claimed timer stays with its owner', async () => {
      const a = await createIn(store, { status: 'Suspended' }, (id) => [timer(id, 'Approve', -1000)]);
      const b = await createIn(store, { status: 'Suspended' }, (id) => [timer(id, 'Approve')]);
      const [claimed] = await store.claimJobs('node-a', 10, 60_000);
      expect(claimed!.instanceId).toBe(a.id);
      await move(a.id, { status: 'Complete' }, (id) => [{ type: 'notify', instanceId: id, step: 'Approve', kind: 'done' } as unknown as Effect]);
      // b's timer (an hour away) is still due; a's claimed timer keeps its lease; a's notification is due now.
      expect(await store.nextJobDelay()).toBe(0);
      expect((await store.claimJobs('node-b', 10, 60_000)).map((j) => j.instanceId)).toEqual([a.id]);
      expect(await store.releaseJob(claimed!.id, 'node-a', new Date(Date.now() + 3_000_000).toISOString(), 'later')).toBe(true);
      expect(b.id).toBeTruthy();
    });
  });

  describe('AssignedToMe from the pending tables', () => {
    it('keeps the four-eyes and already-acted exclusions and follows every state change', async () => {
      const a = await createIn(store, { pendingRoleIds: [7, 8], pendingExcludedIds: [1] });
      const mine = async (identityId: number, roleIds: number[]) => (await store.queryInstances(query({ assignedTo: { identityId, roleIds } }))).map((i) => i.id);
      expect(await mine(2, [7])).toEqual([a.id]);
      expect(await mine(2, [9])).toEqual([]);
      expect(await mine(1, [7])).toEqual([]); // barred (the initiator)
      await move(a.id, { signals: [signal(2)] });
      expect(await mine(2, [8])).toEqual([]); // already acted
      expect(await mine(3, [8])).toEqual([a.id]);
      await move(a.id, { status: 'Complete', signals: [], pendingRoleIds: [], pendingExcludedIds: [] });
      expect(await mine(3, [8])).toEqual([]);
    });

    it('equals the old scan after any sequence of writes (property)', async () => {
      const state = fc.record({
        status: fc.constantFrom('Suspended' as const, 'Suspended' as const, 'Running' as const, 'Complete' as const),
        pendingRoleIds: fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }),
        signals: fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }).map((ids) => ids.map(signal)),
        pendingExcludedIds: fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
      });
      const step = fc.record({ target: fc.nat(), state, create: fc.boolean() });
      await fc.assert(
        fc.asyncProperty(state, fc.array(step, { maxLength: 8 }), async (first, steps) => {
          const ids = [(await createIn(store, first)).id];
          for (const s of steps) {
            if (s.create) ids.push((await createIn(store, s.state)).id);
            else await move(ids[s.target % ids.length]!, s.state);
          }
          const all = await Promise.all(ids.map((id) => store.getInstance(id)));
          for (const identityId of [1, 2, 3, 4])
            for (const roleIds of [[], [1], [2, 3], [1, 2, 3, 4]]) {
              const got = (await store.queryInstances(query({ assignedTo: { identityId, roleIds }, limit: 1000 }))).map((i) => i.id).filter((id) => ids.includes(id));
              const want = all.filter((i) => oldAssigned(i!, identityId, roleIds)).map((i) => i!.id);
              expect(new Set(got)).toEqual(new Set(want));
            }
          for (const id of ids) await store.deleteInstance(id, () => {});
          expect(await store.queryInstances(query({ assignedTo: { identityId: 9, roleIds: [1, 2, 3, 4] } }))).toEqual([]);
        }),
        { numRuns: 25 },
      );
    }, 120_000);
  });

  describe('-contains through the text index', () => {
    const asciiLower = (x: string) => x.replace(/[A-Z]/g, (c) => c.toLowerCase());
    const char = fc.constantFrom('a', 'b', 'A', 'B', 'é', 'É', ' ', '%', '_', '\\', 'x');

    it('finds exactly what a case-insensitive (ASCII) substring test finds, whatever the text (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.option(fc.string({ unit: char, maxLength: 8 }), { nil: null }), { minLength: 1, maxLength: 6 }),
          fc.string({ unit: char, minLength: 1, maxLength: 4 }),
          async (titles, needle) => {
            const made = await Promise.all(titles.map((title) => createIn(store, { title, currentStepDisplayName: title })));
            const ids = new Set(made.map((m) => m.id));
            for (const field of ['Title', 'CurrentStepDisplayName']) {
              const text = `${field} -contains "${needle.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
              const got = (await store.queryInstances(query({ filter: bound(text, INSTANCE_FIELDS), limit: 1000 }))).filter((i) => ids.has(i.id)).map((i) => i.id);
              const want = made.filter((m) => m.title !== null && asciiLower(m.title).includes(asciiLower(needle))).map((m) => m.id);
              expect(new Set(got), `${text} over ${JSON.stringify(titles)}`).toEqual(new Set(want));
            }
            for (const m of made) await store.deleteInstance(m.id, () => {});
          },
        ),
        { numRuns: 30 },
      );
    }, 120_000);

    it('follows renames: a title changed by a transition is found by its new text only', async () => {
      const a = await createIn(store, { title: 'Alpha request' });
      await move(a.id, { title: 'Omega request', currentStepDisplayName: 'Final review' });
      const find = async (text: string) => (await store.queryInstances(query({ filter: bound(text, INSTANCE_FIELDS) }))).map((i) => i.id);
      expect(await find('Title -contains "alpha"')).toEqual([]);
      expect(await find('Title -contains "OMEGA"')).toEqual([a.id]);
      expect(await find('CurrentStepDisplayName -contains "review"')).toEqual([a.id]);
      await store.deleteInstance(a.id, () => {});
      expect(await find('Title -contains "omega"')).toEqual([]);
    });
  });
});
