import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEmbeddedCa, EmbeddedCa } from '../../src/ca/embedded-ca.ts';
import { KeyProtector } from '../../src/ca/key-protection.ts';
import { bytes, toPem, x509 } from '../../src/certificates/x509.ts';
import { RevocationStatus } from '../../src/service/revocation-status.ts';
import { openTestStore } from '../support/stores.ts';
import { crlText } from './relying-party.ts';

const DAY = 86_400_000;
const crlNumber = (der: Uint8Array): number => {
  const crl = new x509.X509Crl(bytes(der));
  const ext = crl.extensions.find((e) => e.type === '2.5.29.20')!;
  // INTEGER: tag, length, big-endian value.
  const v = new Uint8Array(ext.value);
  return v.subarray(2).reduce((n, b) => n * 256 + b, 0);
};

/*
 * The CRL's schedule, with the clock in the test's hands (RevocationStatus takes `now`): a CRL is
 * reused while more than half its validity is left, and reissued (next number) after that, before
 * its nextUpdate. Real store (either), real CA, openssl reads the result.
 */
describe('CRL reissue before nextUpdate', () => {
  it('serves the same CRL while fresh, signs the next number once half its validity has passed', async () => {
    const store = await openTestStore();
    const protector = new KeyProtector(randomBytes(32));
    const record = await store.certificates.insertCaIfAbsent(await createEmbeddedCa('P-256', protector));
    const ca = await EmbeddedCa.load(record, protector);
    let clock = Date.UTC(2026, 5, 1);
    const status = new RevocationStatus(store, (id) => (id === ca.id ? ca : undefined), { crlValidityMs: 2 * DAY, revisionTtlMs: 0, now: () => clock });

    const first = (await status.crl(ca.id))!;
    expect(crlNumber(first)).toBe(1);
    const parsed = new x509.X509Crl(bytes(first));
    expect(parsed.thisUpdate.getTime()).toBe(clock);
    expect(parsed.nextUpdate!.getTime()).toBe(clock + 2 * DAY);
    const text = await crlText(first, toPem(ca.chain()[0]!));
    expect(text.out).toContain('verify OK');

    clock += DAY - 1000; // more than half left: the same CRL
    expect(Buffer.from((await status.crl(ca.id))!).equals(Buffer.from(first))).toBe(true);
    clock += 2000; // less than half left: the next one, well before nextUpdate
    const second = (await status.crl(ca.id))!;
    expect(crlNumber(second)).toBe(2);
    expect(new x509.X509Crl(bytes(second)).nextUpdate!.getTime()).toBe(clock + 2 * DAY);
    // Another node (a second RevocationStatus on the same store) serves the stored CRL, not a new number.
    const other = new RevocationStatus(store, (id) => (id === ca.id ? ca : undefined), { crlValidityMs: 2 * DAY, revisionTtlMs: 0, now: () => clock });
    expect(crlNumber((await other.crl(ca.id))!)).toBe(2);
    status.stop();
    other.stop();
  });
});
