import { beforeEach, describe, expect, it } from 'vitest';
import type { CaRecord } from '../../src/store/certificate-store.ts';
import type { Store } from '../../src/store/store.ts';
import { forEachStore } from '../support/stores.ts';

/* Certificate authorities of every connector kind, the same on SQLite and PostgreSQL. */

const ca = (over: Partial<Omit<CaRecord, 'id'>> = {}): Omit<CaRecord, 'id'> => ({
  logicalName: 'Issuing',
  hostName: 'countersign',
  chainPem: ['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'],
  sealedKey: 'v1:sealed',
  sealedRootKey: null,
  imported: false,
  createdAt: '2026-01-02T03:04:05.000Z',
  connector: 'embedded',
  config: null,
  ...over,
});

forEachStore('Store contract: certificate authorities', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  describe('connector kinds', () => {
    it('keeps the connector and its configuration; first writer of a name wins', async () => {
      const embedded = await store.certificates.insertCaIfAbsent(ca());
      expect(embedded).toMatchObject({ logicalName: 'Issuing', connector: 'embedded', config: null });
      const config = { directoryUrl: 'https://acme.example/dir', contact: ['a@example.com'], accountUrl: 'https://acme.example/acct/1', caBundlePem: null, nested: { n: 1 } };
      const acme = await store.certificates.insertCaIfAbsent(ca({ logicalName: 'Acme', chainPem: [], connector: 'acme', config }));
      expect(acme).toMatchObject({ logicalName: 'Acme', connector: 'acme', config, chainPem: [] });
      const token = await store.certificates.insertCaIfAbsent(
        ca({ logicalName: 'Hsm', sealedKey: '', config: { pkcs11: { token: 't', issuingKey: { id: 'ab', label: 'l' }, rootKey: { id: 'cd', label: 'm' } } } }),
      );
      expect(token.config).toEqual({ pkcs11: { token: 't', issuingKey: { id: 'ab', label: 'l' }, rootKey: { id: 'cd', label: 'm' } } });
      expect(token.sealedKey).toBe('');
      const loser = await store.certificates.insertCaIfAbsent(ca({ logicalName: 'Acme', connector: 'embedded' }));
      expect(loser).toEqual(acme);
      expect((await store.certificates.listCas()).map((c) => [c.logicalName, c.connector])).toEqual([
        ['Issuing', 'embedded'],
        ['Acme', 'acme'],
        ['Hsm', 'embedded'],
      ]);
    });

    it('replaces a chain; unknown ids change nothing', async () => {
      const acme = await store.certificates.insertCaIfAbsent(ca({ logicalName: 'Acme', chainPem: [], connector: 'acme', config: {} }));
      const chain = ['-----BEGIN CERTIFICATE-----\nAQ==\n-----END CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----\nAg==\n-----END CERTIFICATE-----\n'];
      expect(await store.certificates.updateCaChain(acme.id, chain)).toBe(true);
      expect(await store.certificates.updateCaChain(acme.id + 100, [])).toBe(false);
      expect((await store.certificates.listCas()).find((c) => c.id === acme.id)?.chainPem).toEqual(chain);
    });
  });

  describe('ACME orders by idempotency key', () => {
    it('remembers one order per CA and key; a new one replaces it', async () => {
      const c = store.certificates;
      expect(await c.getAcmeOrder(1, 'request:7')).toBeNull();
      await c.putAcmeOrder(1, 'request:7', 'https://acme.example/order/1', '2026-01-01T00:00:00.000Z');
      await c.putAcmeOrder(2, 'request:7', 'https://other.example/order/9', '2026-01-01T00:00:00.000Z');
      expect(await c.getAcmeOrder(1, 'request:7')).toBe('https://acme.example/order/1');
      await c.putAcmeOrder(1, 'request:7', 'https://acme.example/order/2', '2026-01-02T00:00:00.000Z');
      expect(await c.getAcmeOrder(1, 'request:7')).toBe('https://acme.example/order/2');
      expect(await c.getAcmeOrder(2, 'request:7')).toBe('https://other.example/order/9');
    });
  });

  describe('ACME http-01 answers', () => {
    it('put, read until expiry, replace, delete; putting drops expired answers', async () => {
      const c = store.certificates;
      await c.putAcmeChallenge('old', 'old.thumb', '2000-01-01T00:00:00.000Z');
      expect(await c.getAcmeChallenge('old', '1999-12-31T00:00:00.000Z')).toBe('old.thumb');
      await c.putAcmeChallenge('tok-1', 'tok-1.thumb', '2099-01-01T00:00:00.000Z');
      expect(await c.getAcmeChallenge('tok-1', '2026-01-01T00:00:00.000Z')).toBe('tok-1.thumb');
      expect(await c.getAcmeChallenge('tok-1', '2099-01-01T00:00:00.001Z')).toBeNull();
      expect(await c.getAcmeChallenge('old', '1999-12-31T00:00:00.000Z')).toBeNull(); // dropped by the next put
      await c.putAcmeChallenge('tok-1', 'tok-1.other', '2099-01-01T00:00:00.000Z');
      expect(await c.getAcmeChallenge('tok-1', '2026-01-01T00:00:00.000Z')).toBe('tok-1.other');
      expect(await c.getAcmeChallenge("x' OR '1'='1", '2026-01-01T00:00:00.000Z')).toBeNull();
      await c.deleteAcmeChallenge('tok-1');
      expect(await c.getAcmeChallenge('tok-1', '2026-01-01T00:00:00.000Z')).toBeNull();
    });
  });
});
