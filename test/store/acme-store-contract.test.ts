import { beforeEach, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../src/domain/acme/policy.ts';
import type { AcmeAccount, AcmeAuthz, AcmeOrder, EabKey } from '../../src/domain/acme/types.ts';
import type { Store } from '../../src/store/store.ts';
import { forEachStore } from '../support/stores.ts';

/* The ACME port on both stores: nonces once, optimistic revisions, single-use EAB binding. */

const account = (over: Partial<AcmeAccount> = {}): AcmeAccount => ({
  id: 'acct1',
  profile: 'default',
  thumbprint: 'tp1',
  jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
  status: 'valid',
  contact: [],
  identityId: null,
  eabKid: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  rev: 1,
  ...over,
});

const order = (over: Partial<AcmeOrder> = {}): AcmeOrder => ({
  id: 'ord1',
  accountId: 'acct1',
  profile: 'default',
  status: 'pending',
  expires: '2026-01-08T00:00:00.000Z',
  identifiers: [{ type: 'dns', value: 'a.example.test' }],
  authzIds: ['az2', 'az1'],
  notBefore: null,
  notAfter: null,
  requestId: null,
  certificateId: null,
  error: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  rev: 1,
  ...over,
});

const authz = (id: string, orderId = 'ord1'): AcmeAuthz => ({
  id,
  orderId,
  accountId: 'acct1',
  identifier: { type: 'dns', value: `${id}.example.test` },
  wildcard: false,
  status: 'pending',
  expires: '2026-01-08T00:00:00.000Z',
  challenges: [{ id: `${id}c`, type: 'http-01', token: 't', status: 'pending', validated: null, error: null, record: null }],
  rev: 1,
});

const eab = (kid: string): EabKey => ({
  kid,
  identityId: 1,
  profile: null,
  sealedKey: 'sealed',
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'admin',
  revokedAt: null,
  accountId: null,
});

forEachStore('ACME store contract', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  describe('nonces', () => {
    it('a nonce is accepted once, and never after it expires', async () => {
      await store.acme.addNonce('n1', 2000);
      await store.acme.addNonce('n2', 2000);
      expect(await store.acme.consumeNonce('n1', 1000)).toBe(true);
      expect(await store.acme.consumeNonce('n1', 1000)).toBe(false);
      expect(await store.acme.consumeNonce('n2', 2000)).toBe(false);
      expect(await store.acme.consumeNonce('never', 1000)).toBe(false);
    });

    it('two consumers racing for one nonce: exactly one wins', async () => {
      await store.acme.addNonce('race', 10_000);
      const results = await Promise.all(Array.from({ length: 8 }, () => store.acme.consumeNonce('race', 1)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });

  describe('accounts', () => {
    it('one account per key and profile; saves check the revision', async () => {
      expect((await store.acme.insertAccount(account())).created).toBe(true);
      const again = await store.acme.insertAccount(account({ id: 'acct2' }));
      expect(again).toEqual({ account: account(), created: false });
      expect((await store.acme.insertAccount(account({ id: 'acct3', profile: 'other' }))).created).toBe(true);
      expect(await store.acme.findAccountByThumbprint('default', 'tp1')).toEqual(account());
      expect(await store.acme.saveAccount({ ...account(), status: 'deactivated' }, 1)).toBe(true);
      expect(await store.acme.saveAccount({ ...account(), contact: ['mailto:x@y.z'] }, 1)).toBe(false);
      expect(await store.acme.getAccount('acct1')).toMatchObject({ status: 'deactivated', rev: 2 });
    });

    it('a key change to a key another account of the profile holds is refused', async () => {
      await store.acme.insertAccount(account());
      await store.acme.insertAccount(account({ id: 'acct2', thumbprint: 'tp2' }));
      expect(await store.acme.saveAccount({ ...account({ id: 'acct2' }), thumbprint: 'tp1' }, 1)).toBe(false);
      expect(await store.acme.saveAccount({ ...account({ id: 'acct2' }), thumbprint: 'tp3' }, 1)).toBe(true);
      expect(await store.acme.findAccountByThumbprint('default', 'tp3')).toMatchObject({ id: 'acct2' });
    });
  });

  describe('orders and authorizations', () => {
    it('stores an order with its authorizations in the order it lists them', async () => {
      await store.acme.insertOrder(order(), [authz('az1'), authz('az2')]);
      expect(await store.acme.getOrder('ord1')).toEqual(order());
      expect((await store.acme.listAuthzs('ord1')).map((a) => a.id)).toEqual(['az2', 'az1']);
      expect(await store.acme.getAuthz('az1')).toEqual(authz('az1'));
      expect(await store.acme.saveAuthz({ ...authz('az1'), status: 'valid' }, 1)).toBe(true);
      expect(await store.acme.saveAuthz({ ...authz('az1'), status: 'invalid' }, 1)).toBe(false);
      expect(await store.acme.getAuthz('az1')).toMatchObject({ status: 'valid', rev: 2 });
    });

    it('counts pending orders, finds an order by its certificate, lists ids newest first', async () => {
      await store.acme.insertOrder(order(), []);
      await store.acme.insertOrder(order({ id: 'ord2', status: 'processing' }), []);
      await store.acme.insertOrder(order({ id: 'ord3', status: 'valid', certificateId: 7 }), []);
      await store.acme.insertOrder(order({ id: 'ord4', expires: '2025-01-01T00:00:00.000Z' }), []);
      expect(await store.acme.countPendingOrders('acct1', '2026-01-02T00:00:00.000Z')).toBe(2);
      expect(await store.acme.findOrderByCertificate(7)).toMatchObject({ id: 'ord3' });
      expect(await store.acme.listOrderIds('acct1', 10)).toEqual(['ord4', 'ord3', 'ord2', 'ord1']);
      expect(await store.acme.saveOrder({ ...order(), status: 'ready' }, 1)).toBe(true);
      expect(await store.acme.saveOrder({ ...order(), status: 'invalid' }, 1)).toBe(false);
    });
  });

  describe('EAB keys', () => {
    it('binds once, never when revoked, and to one account only', async () => {
      await store.acme.insertEabKey(eab('k1'));
      await store.acme.insertEabKey(eab('k2'));
      const binds = await Promise.all([store.acme.bindEabKey('k1', 'a'), store.acme.bindEabKey('k1', 'b')]);
      expect(binds.filter(Boolean)).toHaveLength(1);
      expect(await store.acme.revokeEabKey('k2', '2026-01-02T00:00:00.000Z')).toBe(true);
      expect(await store.acme.bindEabKey('k2', 'a')).toBe(false);
      expect(await store.acme.revokeEabKey('nope', 'x')).toBe(false);
      expect((await store.acme.listEabKeys()).map((k) => [k.kid, k.revokedAt !== null])).toEqual([
        ['k1', false],
        ['k2', true],
      ]);
    });
  });

  describe('profiles', () => {
    it('puts, replaces, lists and deletes, names case-insensitive', async () => {
      await store.acme.putProfile({ ...defaultProfile('Web'), requireEab: true });
      await store.acme.putProfile({ ...defaultProfile('web'), requireEab: false });
      expect(await store.acme.listProfiles()).toHaveLength(1);
      expect(await store.acme.getProfile('WEB')).toMatchObject({ requireEab: false });
      expect(await store.acme.deleteProfile('Web')).toBe(true);
      expect(await store.acme.getProfile('web')).toBeNull();
    });
  });
});
