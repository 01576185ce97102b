import { beforeEach, describe, expect, it } from 'vitest';
import type { RevocationState } from '../../src/certificates/revocation.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import type { Store } from '../../src/store/store.ts';
import { forEachStore } from '../support/stores.ts';
import { newCertificate } from './store-fixtures.ts';

/* The revocation part of the CertificateStore port, the same on SQLite and PostgreSQL. */

const history = (action: string) => ({ at: '2026-02-01T00:00:00.000Z', username: 'rita', action, comment: null });
const revoked = (reason: number, at = '2026-02-01T00:00:00.000Z'): RevocationState => ({ reason, effectiveDate: at, comment: 'why' });

forEachStore('Revocation store contract', (current) => {
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  describe('reviseRevocation', () => {
    it('changes state, adds history and raises the CA revision in one step; no change when decide returns the same', async () => {
      const { certificate } = await store.certificates.recordIssued(newCertificate(1));
      expect(certificate.revocation).toBeNull();
      expect(await store.certificates.revocationState(1)).toEqual({ revision: 0, crl: null });
      const r = await store.certificates.reviseRevocation(certificate.id, (cur) => (cur === null ? revoked(6) : cur), history('OnHold'));
      expect(r).toMatchObject({ changed: true, certificate: { revocation: revoked(6) } });
      expect((await store.certificates.getCertificate(certificate.id))!.revocation).toEqual(revoked(6));
      expect((await store.certificates.revocationState(1)).revision).toBe(1);
      const same = await store.certificates.reviseRevocation(certificate.id, (cur) => cur, history('Nothing'));
      expect(same!.changed).toBe(false);
      expect((await store.certificates.revocationState(1)).revision).toBe(1);
      await store.certificates.reviseRevocation(certificate.id, () => null, history('ReleasedFromHold'));
      expect((await store.certificates.getCertificate(certificate.id))!.revocation).toBeNull();
      expect((await store.certificates.revocationState(1)).revision).toBe(2);
      expect((await store.certificates.listCertificateHistory(certificate.id)).map((h) => h.action)).toEqual(['OnHold', 'ReleasedFromHold']);
      // Another CA's revision is its own.
      expect((await store.certificates.revocationState(2)).revision).toBe(0);
    });

    it('writes nothing when decide throws; null for an unknown certificate', async () => {
      const { certificate } = await store.certificates.recordIssued(newCertificate(1));
      await expect(
        store.certificates.reviseRevocation(
          certificate.id,
          () => {
            throw new CountersignError('RevocationRefused', 'no');
          },
          history('Revoked'),
        ),
      ).rejects.toMatchObject({ errorName: 'RevocationRefused' });
      expect((await store.certificates.getCertificate(certificate.id))!.revocation).toBeNull();
      expect(await store.certificates.listCertificateHistory(certificate.id)).toEqual([]);
      expect((await store.certificates.revocationState(1)).revision).toBe(0);
      expect(await store.certificates.reviseRevocation(987654, () => revoked(1), history('Revoked'))).toBeNull();
    });

    it('serialises concurrent changes of one certificate: exactly one of ten "revoke if not revoked" wins', async () => {
      const { certificate } = await store.certificates.recordIssued(newCertificate(1));
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          store.certificates.reviseRevocation(
            certificate.id,
            (cur) => {
              if (cur) throw new CountersignError('RevocationRefused', 'revoked already');
              return revoked(i % 5);
            },
            history('Revoked'),
          ),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await store.certificates.listCertificateHistory(certificate.id)).toHaveLength(1);
      expect((await store.certificates.revocationState(1)).revision).toBe(1);
    });
  });

  it("listRevoked lists a CA's revoked and held certificates; findBySerial finds by CA and serial; queries leave revoked out unless asked", async () => {
    const a = (await store.certificates.recordIssued(newCertificate(1))).certificate;
    const b = (await store.certificates.recordIssued(newCertificate(1))).certificate;
    const c = (await store.certificates.recordIssued(newCertificate(2))).certificate;
    await store.certificates.reviseRevocation(a.id, () => revoked(1, '2026-03-04T05:06:07.000Z'), history('Revoked'));
    await store.certificates.reviseRevocation(c.id, () => revoked(6), history('OnHold'));
    expect(await store.certificates.listRevoked(1)).toEqual([{ certificateId: a.id, serialNumber: a.serialNumber, reason: 1, effectiveDate: '2026-03-04T05:06:07.000Z' }]);
    expect((await store.certificates.listRevoked(2)).map((e) => e.reason)).toEqual([6]);
    expect((await store.certificates.findBySerial(1, b.serialNumber.toLowerCase()))!.id).toBe(b.id);
    expect(await store.certificates.findBySerial(2, b.serialNumber)).toBeNull();
    const q = { filter: null, limit: 50, offset: 0, sortColumn: 'id', ascending: true, includeExpired: true, now: '2026-06-01T00:00:00.000Z' };
    expect((await store.certificates.queryCertificates(q)).map((x) => x.id)).toEqual([b.id]);
    expect((await store.certificates.queryCertificates({ ...q, includeRevoked: true })).map((x) => x.id)).toEqual([a.id, b.id, c.id]);
  });

  it('saveCrl keeps the highest CRL number: a second writer of the same number loses', async () => {
    const crl = (number: number, revision: number) => ({
      number,
      revision,
      thisUpdate: '2026-02-01T00:00:00.000Z',
      nextUpdate: '2026-02-08T00:00:00.000Z',
      der: new Uint8Array([number, revision]),
    });
    expect(await store.certificates.saveCrl(1, crl(1, 0))).toBe(true);
    expect(await store.certificates.saveCrl(1, crl(1, 5))).toBe(false);
    expect((await store.certificates.revocationState(1)).crl).toEqual(crl(1, 0));
    expect(await store.certificates.saveCrl(1, crl(2, 3))).toBe(true);
    const state = await store.certificates.revocationState(1);
    expect(state.crl).toEqual(crl(2, 3));
    // Saving a CRL does not move the revision.
    expect(state.revision).toBe(0);
    const both = await Promise.all([store.certificates.saveCrl(1, crl(3, 3)), store.certificates.saveCrl(1, crl(3, 3))]);
    expect(both.filter(Boolean)).toHaveLength(1);
  });
});
