import { beforeEach, describe, expect, it } from 'vitest';
import { holdingIdempotencyKey } from '../../src/store/idempotency-rows.ts';
import type { Store } from '../../src/store/store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { forEachStore } from '../support/stores.ts';
import { createIn, newCertificate, note } from './store-fixtures.ts';

/*
 * Idempotency-Key in the store (docs/approvals.md#idempotency-key): the action's own transaction
 * marks the key acted upon, so a key whose answer was lost (the node died between the commit and
 * finishIdempotencyKey) is never claimed again once its lease is over: its retries learn 'acted'.
 */

const T = Date.parse('2026-03-01T10:00:00.000Z');
const LEASE = 60_000;
const at = (ms: number) => new Date(T + ms).toISOString();
const SCOPE = 42;

const claim = (store: Store, key: string, ms = 0, fingerprint = 'fp') =>
  store.claimIdempotencyKey({ scope: SCOPE, key, fingerprint, now: at(ms), leaseUntil: at(ms + LEASE), expiresAt: at(ms + 24 * 3600_000) });

/** Runs fn as a request holding `key` runs its handler. */
const under = <R>(key: string, fn: () => Promise<R>) => holdingIdempotencyKey({ scope: SCOPE, key, open: true }, fn);

const rename = (store: Store, id: string, title: string) =>
  store.mutateInstance(id, (cur) => ({ transition: { instance: { ...cur, title }, history: [note(title)], effects: [] }, result: title }));

forEachStore('Idempotency-Key store contract', (current, kind) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  describe('the acted mark', () => {
    it('a key whose action committed is not claimed again after its lease: it is acted, then replayed once answered', async () => {
      expect(await claim(store, 'start')).toEqual({ state: 'claimed' });
      await under('start', () => createIn(store));
      // The node died here: no finishIdempotencyKey. During the lease a retry waits ...
      expect(await claim(store, 'start', 1_000)).toEqual({ state: 'in-flight' });
      // ... after it, the retry learns the first request acted, and claims nothing.
      expect(await claim(store, 'start', LEASE + 1_000)).toEqual({ state: 'acted' });
      expect(await claim(store, 'start', LEASE + 2_000)).toEqual({ state: 'acted' });
      // Another request with the same key is still a mismatch.
      expect(await claim(store, 'start', LEASE + 3_000, 'other')).toEqual({ state: 'mismatch' });
      // An expired key is a new key: it may act again.
      expect(await claim(store, 'start', 25 * 3600_000)).toEqual({ state: 'claimed' });
    });

    it('a key held by a request that did not act is taken over after its lease, as before', async () => {
      expect(await claim(store, 'idle')).toEqual({ state: 'claimed' });
      expect(await claim(store, 'idle', LEASE + 1_000)).toEqual({ state: 'claimed' });
    });

    it('releasing (a 5xx) a key that acted does not free it for acting again: its lease ends at once', async () => {
      await claim(store, 'released');
      await under('released', () => createIn(store));
      await store.finishIdempotencyKey(SCOPE, 'released', null);
      expect(await claim(store, 'released', 1_000)).toEqual({ state: 'acted' });
      // Without an action, the release frees the key at once.
      await claim(store, 'free');
      await store.finishIdempotencyKey(SCOPE, 'free', null);
      expect(await claim(store, 'free', 1_000)).toEqual({ state: 'claimed' });
    });

    it('an answered key replays its answer, acted or not', async () => {
      await claim(store, 'answered');
      await under('answered', () => createIn(store));
      await store.finishIdempotencyKey(SCOPE, 'answered', { status: 201, headers: { location: '/x' }, body: '{"Id":"x"}' });
      expect(await claim(store, 'answered', LEASE + 1_000)).toEqual({ state: 'replay', status: 201, headers: { location: '/x' }, body: '{"Id":"x"}' });
    });

    it('signals (mutateInstance), certificate requests and revocations mark too', async () => {
      const made = await createIn(store);
      await claim(store, 'signal');
      await under('signal', () => rename(store, made.id, 'signalled'));
      expect(await claim(store, 'signal', LEASE + 1_000)).toEqual({ state: 'acted' });

      await claim(store, 'enroll');
      await under('enroll', () =>
        store.certificates.createRequest({ kind: 'CSR', requesterId: 1, requesterName: 'alice', templateId: 1, caId: 1, data: {}, sealedKey: null, createdAt: at(0) }),
      );
      expect(await claim(store, 'enroll', LEASE + 1_000)).toEqual({ state: 'acted' });

      const { certificate } = await store.certificates.recordIssued(newCertificate());
      const history = { at: at(0), username: 'rita', action: 'Revoked', comment: null };
      await claim(store, 'revoke');
      // A revision that changes nothing did not act.
      await under('revoke', () => store.certificates.reviseRevocation(certificate.id, (cur) => cur, history));
      await claim(store, 'revoke-2');
      await under('revoke-2', () => store.certificates.reviseRevocation(certificate.id, () => ({ reason: 1, effectiveDate: at(0), comment: 'x' }), history));
      expect(await claim(store, 'revoke', LEASE + 1_000)).toEqual({ state: 'claimed' });
      expect(await claim(store, 'revoke-2', LEASE + 1_000)).toEqual({ state: 'acted' });
    });

    it('a rolled-back action leaves no mark; nor does a change that writes nothing, or work after the answer', async () => {
      const made = await createIn(store);
      // The database refuses the write (an instance with that id exists): the mark goes with it.
      await claim(store, 'fails');
      await expect(under('fails', () => createIn(store, { id: made.id }))).rejects.toThrow();
      expect(await claim(store, 'fails', LEASE + 1_000)).toEqual({ state: 'claimed' });
      await claim(store, 'refused');
      await expect(
        under('refused', () =>
          store.mutateInstance(made.id, () => {
            throw new Error('refused');
          }),
        ),
      ).rejects.toThrow('refused');
      expect(await claim(store, 'refused', LEASE + 1_000)).toEqual({ state: 'claimed' });

      await claim(store, 'looked');
      await under('looked', () => store.mutateInstance(made.id, () => ({ transition: null, result: null })));
      expect(await claim(store, 'looked', LEASE + 1_000)).toEqual({ state: 'claimed' });

      // A request answered (open: false): work still running in its async context marks nothing.
      await claim(store, 'answered-late');
      await holdingIdempotencyKey({ scope: SCOPE, key: 'answered-late', open: false }, () => createIn(store));
      expect(await claim(store, 'answered-late', LEASE + 1_000)).toEqual({ state: 'claimed' });
    });

    it('requests committed together: each marks its own key, and the one that fails marks nothing', async () => {
      const made = await Promise.all([1, 2, 3].map(() => createIn(store)));
      for (const k of ['g-fail', 'g-ok-1', 'g-ok-2']) await claim(store, k);
      const batches = kind === 'sqlite' ? (store as SqliteStore).group.counts.batches : 0;
      // Submitted in the same turn: on SQLite one transaction, each under its own savepoint. The
      // failing one comes first, so the batch runs in its async context: a mark read when the batch
      // runs (not when the work was submitted) would land on the wrong key.
      const results = await Promise.allSettled([
        // The database refuses its insert (an instance with that id exists), after its mark.
        under('g-fail', () => createIn(store, { id: made[0]!.id })),
        under('g-ok-1', () => rename(store, made[1]!.id, 'one')),
        under('g-ok-2', () => rename(store, made[2]!.id, 'two')),
      ]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
      if (kind === 'sqlite') expect((store as SqliteStore).group.counts.batches - batches).toBe(1);
      expect(await claim(store, 'g-fail', LEASE + 1_000)).toEqual({ state: 'claimed' });
      expect(await claim(store, 'g-ok-1', LEASE + 1_000)).toEqual({ state: 'acted' });
      expect(await claim(store, 'g-ok-2', LEASE + 1_000)).toEqual({ state: 'acted' });
    });
  });
});
