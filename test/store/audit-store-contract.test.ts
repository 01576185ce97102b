import { createHash, createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AuditContent, type AuditCrypto, checkChain, seal } from '../../src/domain/audit.ts';
import { fail } from '../../src/domain/errors.ts';
import type { Store } from '../../src/store/store.ts';
import { errorOf, forEachStore } from '../support/stores.ts';
import { T0, createIn, instance, note, runStep, started } from './store-fixtures.ts';

/*
 * The audit outbox (docs/security/audit.md, "Appending"), on both stores: an action's audit entry
 * is written in the action's own transaction (all or nothing with it), and the sealer moves the
 * rows into the chain exactly once, in order, even when sealers run at the same time.
 */

const crypto: AuditCrypto = {
  sha256: (t) => createHash('sha256').update(t).digest('hex'),
  hmac: (t) => createHmac('sha256', 'outbox-test-key').update(t).digest('hex'),
};
const sealer = (prev: string | null, c: AuditContent) => seal(prev, c, crypto);

const content = (message: string): AuditContent => ({
  at: T0,
  category: 3,
  operation: 5,
  level: 0,
  actor: 'alice',
  entityType: 'WorkflowInstance',
  auditIdentifier: null,
  immutableIdentifier: 'instance.signalled',
  message,
  data: JSON.stringify({ event: 'instance.signalled', message }),
});

/** The whole chain in id order, and whether it verifies. */
async function chain(store: Store) {
  const entries = await store.auditEntriesAfter(0, 100_000);
  return { messages: entries.map((e) => e.message), report: checkChain(entries, null, crypto) };
}

forEachStore('Audit outbox contract', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  describe('written in the action transaction', () => {
    it('a mutateInstance with audit content writes the outbox row with the change; sealing chains it', async () => {
      const inst = await createIn(store);
      await store.mutateInstance(inst.id, (i) => ({
        transition: { instance: { ...i, status: 'Complete' }, history: [note('done')], effects: [] },
        audit: [content('signal 1'), content('signal 2')],
        result: null,
      }));
      // Nothing in the chain until the sealer runs.
      expect((await chain(store)).messages).toEqual([]);
      const sealed = await store.sealAuditOutbox(100, sealer);
      expect(sealed.map((e) => e.message)).toEqual(['signal 1', 'signal 2']);
      expect((await chain(store)).messages).toEqual(['signal 1', 'signal 2']);
    });

    it('a change with no transition still writes its audit content', async () => {
      const inst = await createIn(store);
      await store.mutateInstance(inst.id, () => ({ transition: null, audit: [content('looked')], result: null }));
      expect((await store.sealAuditOutbox(100, sealer)).map((e) => e.message)).toEqual(['looked']);
    });

    it('a thrown fn writes neither the instance nor the outbox row; nor does a change rolled back after fn returned', async () => {
      const inst = await createIn(store, {}, (id) => [runStep(id)]);
      const thrown = await errorOf(store.mutateInstance(inst.id, () => fail('Forbidden', 'refused')));
      expect(thrown.errorName).toBe('Forbidden');
      // Written, then rolled back: the job is held by nobody, so completing it is a Conflict after fn returned.
      const e = await errorOf(
        store.mutateInstance(inst.id, (i) => ({
          transition: { instance: { ...i, status: 'Complete' }, history: [note('done')], effects: [] },
          completeJob: { id: 999_999, owner: 'nobody' },
          audit: [content('never')],
          result: null,
        })),
      );
      expect(e.errorName).toBe('Conflict');
      expect((await store.getInstance(inst.id))!.status).toBe('Suspended');
      expect(await store.sealAuditOutbox(100, sealer)).toEqual([]);
      expect((await chain(store)).messages).toEqual([]);
    });

    it('createInstance and startInstanceOnce write their audit content with the instance (a claim taken before writes none)', async () => {
      await store.createInstance((ref) => started(instance(ref)), [content('started')]);
      const claim = { alertId: 1, certificateId: 2, at: T0 };
      expect(await store.startInstanceOnce(claim, (ref) => started(instance(ref)), [content('alert start')])).not.toBeNull();
      expect(await store.startInstanceOnce(claim, (ref) => started(instance(ref)), [content('alert start again')])).toBeNull();
      expect((await store.sealAuditOutbox(100, sealer)).map((e) => e.message)).toEqual(['started', 'alert start']);
    });

    it('deleteInstance writes its audit content with the delete; a guard that throws writes neither', async () => {
      const kept = await createIn(store);
      const refused = await errorOf(store.deleteInstance(kept.id, () => fail('InstanceNotTerminal', 'waiting'), [content('never deleted')]));
      expect(refused.errorName).toBe('InstanceNotTerminal');
      expect(await store.getInstance(kept.id)).not.toBeNull();
      expect(await store.countAuditOutbox()).toBe(0);
      // An unknown id: NotFound, and nothing written either.
      expect((await errorOf(store.deleteInstance('no-such-instance', () => {}, [content('nothing')]))).errorName).toBe('NotFound');
      expect(await store.countAuditOutbox()).toBe(0);
      await store.deleteInstance(kept.id, () => {}, [content('deleted')]);
      expect(await store.getInstance(kept.id)).toBeNull();
      expect(await store.countAuditOutbox()).toBe(1);
      expect((await store.sealAuditOutbox(100, sealer)).map((e) => e.message)).toEqual(['deleted']);
      expect((await chain(store)).messages).toEqual(['deleted']);
    });

    it('countAuditOutbox counts the rows waiting, and none once they are sealed', async () => {
      expect(await store.countAuditOutbox()).toBe(0);
      const inst = await createIn(store);
      await store.mutateInstance(inst.id, () => ({ transition: null, audit: [content('a'), content('b')], result: null }));
      await store.createInstance((ref) => started(instance(ref)), [content('c')]);
      expect(await store.countAuditOutbox()).toBe(3);
      await store.sealAuditOutbox(2, sealer);
      expect(await store.countAuditOutbox()).toBe(1);
      await store.sealAuditOutbox(2, sealer);
      expect(await store.countAuditOutbox()).toBe(0);
    });
  });

  describe('the sealer', () => {
    it('chains outbox rows after the existing entries, deletes them, and the chain verifies', async () => {
      await store.appendAudit([content('direct 1'), content('direct 2')], sealer);
      const inst = await createIn(store);
      for (let k = 1; k <= 5; k++) await store.mutateInstance(inst.id, () => ({ transition: null, audit: [content(`outbox ${k}`)], result: null }));
      // In id order, `limit` at a time.
      expect((await store.sealAuditOutbox(3, sealer)).map((e) => e.message)).toEqual(['outbox 1', 'outbox 2', 'outbox 3']);
      await store.appendAudit([content('direct 3')], sealer);
      expect((await store.sealAuditOutbox(3, sealer)).map((e) => e.message)).toEqual(['outbox 4', 'outbox 5']);
      // Deleted: sealing again finds nothing.
      expect(await store.sealAuditOutbox(3, sealer)).toEqual([]);
      const c = await chain(store);
      expect(c.messages).toEqual(['direct 1', 'direct 2', 'outbox 1', 'outbox 2', 'outbox 3', 'direct 3', 'outbox 4', 'outbox 5']);
      expect(c.report.firstBad).toBeNull();
      expect(c.report.checked).toBe(8);
    });

    it('sealers running at the same time (and appends) never duplicate an entry nor fork the chain', async () => {
      await store.appendAudit([content('first')], sealer);
      const insts = await Promise.all(Array.from({ length: 4 }, () => createIn(store)));
      // The instances' changes interleave; each instance's own come one after the other.
      await Promise.all(
        insts.map(async (inst, i) => {
          for (let k = 0; k < 10; k++) await store.mutateInstance(inst.id, () => ({ transition: null, audit: [content(`i${i} s${k}`)], result: null }));
        }),
      );
      const results = await Promise.all([
        store.sealAuditOutbox(7, sealer),
        store.sealAuditOutbox(7, sealer),
        store.appendAudit([content('direct')], sealer),
        store.sealAuditOutbox(100, sealer),
        store.sealAuditOutbox(7, sealer),
      ]);
      const sealed = [...results[0], ...results[1], ...results[3], ...results[4]].map((e) => e.message);
      expect(sealed).toHaveLength(40);
      expect(new Set(sealed).size).toBe(40);
      const c = await chain(store);
      expect(c.report.firstBad).toBeNull();
      expect(c.messages).toHaveLength(42);
      expect(new Set(c.messages).size).toBe(42);
      // Per instance, its entries keep the order its changes committed in.
      for (let i = 0; i < 4; i++) expect(c.messages.filter((m) => m.startsWith(`i${i} `))).toEqual(Array.from({ length: 10 }, (_, k) => `i${i} s${k}`));
      expect(await store.sealAuditOutbox(100, sealer)).toEqual([]);
    });
  });
});
