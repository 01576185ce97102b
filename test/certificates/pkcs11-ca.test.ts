import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type * as graphene from 'graphene-pk11';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCa, pkcs11KeysOf } from '../../src/ca/embedded-ca.ts';
import { Pkcs11Token } from '../../src/ca/pkcs11/token.ts';
import type { Config } from '../../src/config.ts';
import { createServer } from '../../src/server.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { ADMIN, startTestApp, type TestApp } from '../support/server.ts';
import { pkcs11Tool, requireSoftHsm, SOFTHSM_MODULE, useSoftHsm } from '../support/softhsm.ts';
import { opensslCsr, opensslVerify } from './openssl.ts';

/*
 * The embedded CA with its keys in a PKCS#11 token (SoftHSM2, initialised here): certificates
 * are signed in the token, the key is a sensitive, never-extractable token object, and the store
 * holds no key material for it.
 */

const PIN = '246813';

describe.runIf(requireSoftHsm())('CA keys in a PKCS#11 token (SoftHSM2)', () => {
  let hsm: ReturnType<typeof useSoftHsm>;
  const databases: string[] = [];
  const caKey = randomBytes(32).toString('base64');

  /** A store that outlives one server: a SQLite file, or a PostgreSQL database of its own. */
  const newDatabase = async () => {
    const url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(mkdtempSync(join(tmpdir(), 'countersign-p11-')), 'db.sqlite')}`;
    if (usePostgres()) databases.push(url);
    return url;
  };
  const pkcs11 = (tokenLabel: string, pin = PIN): Config['pkcs11'] => ({ module: SOFTHSM_MODULE, tokenLabel, pin });

  beforeAll(() => {
    hsm = useSoftHsm();
    hsm.initToken('countersign-ca', PIN);
    hsm.initToken('second-token', PIN);
    hsm.initToken('race-token', PIN);
  });
  afterAll(async () => {
    for (const url of databases) await dropTestDatabase(url);
  });

  const enroll = async (t: TestApp, cn: string, ca?: string) => {
    const res = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256', `/CN=${cn}`, `DNS:${cn}`).csr, Template: 'Countersign', IncludeChain: true, ...(ca ? { CertificateAuthority: ca } : {}) },
    });
    expect(res.status, res.text).toBe(200);
    return res.body.CertificateInformation.Certificates as string[];
  };

  it('a wrong PIN or an unknown token stops the server, saying what is wrong (never echoing the PIN)', async () => {
    const base = {
      port: 0,
      host: '127.0.0.1',
      adminUser: ADMIN.user,
      adminPassword: ADMIN.password,
      reconcileIntervalMs: 60_000,
      authCacheTtlMs: 60_000,
      maxWaitMs: 1e9,
      logLevel: 'silent',
      caKey,
    };
    const wrongPin = createServer({ ...base, databaseUrl: await newDatabase(), pkcs11: pkcs11('countersign-ca', '999999') });
    await expect(wrongPin).rejects.toThrow(/Could not log in to the PKCS#11 token 'countersign-ca' with the configured PIN/);
    await wrongPin.catch((e: Error) => expect(e.message).not.toContain('999999'));
    await expect(createServer({ ...base, databaseUrl: await newDatabase(), pkcs11: pkcs11('no-such-token') })).rejects.toThrow(
      /No PKCS#11 token is labelled 'no-such-token'.*'countersign-ca'/,
    );
  }, 60_000);

  it('creates the embedded CA in the token; certificates it signs there verify with openssl; the key cannot leave the token', async () => {
    const databaseUrl = await newDatabase();
    let t = await startTestApp({ databaseUrl, caKey, pkcs11: pkcs11('countersign-ca'), caAlgorithm: 'P-384' });
    try {
      const cas = (await t.call('GET', '/KeyfactorAPI/CertificateAuthority')).body;
      expect(cas).toHaveLength(1);
      expect(JSON.parse(cas[0].Properties)).toEqual({ Embedded: true, KeyStorage: 'PKCS#11', Token: 'countersign-ca' });
      const chain = await enroll(t, 'hsm.example.com');
      expect(chain).toHaveLength(3);
      expect(opensslVerify(chain[0]!, chain.slice(1))).toMatch(/OK/);

      // The store holds no key material for it: only which keys in which token.
      const [record] = await t.server.services.store.certificates.listCas();
      expect(record!.sealedKey).toBe('');
      expect(record!.sealedRootKey).toBeNull();
      const keys = pkcs11KeysOf(record!)!;
      expect(keys.token).toBe('countersign-ca');

      // Read from the token: a token object, sensitive, never extractable.
      const ca = t.server.certificates.caById(record!.id) as EmbeddedCa;
      const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: 'countersign-ca', pin: PIN });
      expect(token.keyAttributes(ca.signer().key)).toEqual({ token: true, sensitive: true, extractable: false, neverExtractable: true });
      // From outside the server: pkcs11-tool sees both private keys, and reading one is refused.
      const listed = pkcs11Tool(hsm.conf, ['--token-label', 'countersign-ca', '--login', '--pin', PIN, '--list-objects', '--type', 'privkey']);
      expect(listed.status, listed.out).toBe(0);
      for (const ref of [keys.issuingKey, keys.rootKey]) expect(listed.out).toContain(ref.label);
      expect(listed.out).toMatch(/Access:\s+sensitive, always sensitive, never extractable/);
      // Asking the token for the private value itself (CKA_VALUE) is refused by the token.
      const object = (ca.signer().key as unknown as { key: graphene.SessionObject }).key;
      expect(() => object.getAttribute({ value: null })).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      // WebCrypto agrees: the key is not exportable.
      await expect(token.crypto.subtle.exportKey('pkcs8', ca.signer().key)).rejects.toThrow();

      // Restart on the same store: the CA is loaded from the token and signs again.
      await t.close();
      t = await startTestApp({ databaseUrl, caKey, pkcs11: pkcs11('countersign-ca') });
      const again = await enroll(t, 'again.example.com');
      expect(again[2]).toBe(chain[2]);
      expect(opensslVerify(again[0]!, again.slice(1))).toMatch(/OK/);
    } finally {
      await t.close();
    }
    // Without the token configured, the store's CA cannot sign: the server does not start.
    await expect(startTestApp({ databaseUrl, caKey })).rejects.toThrow(
      /The key of CA CountersignIssuingCA is in the PKCS#11 token 'countersign-ca': set COUNTERSIGN_PKCS11_MODULE/,
    );
    // A token that does not hold its key does not pass for it.
    await expect(startTestApp({ databaseUrl, caKey, pkcs11: pkcs11('second-token') })).rejects.toThrow(/holds no private key with id/);
  }, 120_000);

  it('two nodes creating the CA at once: one CA, and the loser’s keys are deleted from the token', async () => {
    const databaseUrl = await newDatabase();
    const nodes = await Promise.all([0, 1].map(() => startTestApp({ databaseUrl, caKey, pkcs11: pkcs11('race-token') })));
    try {
      const ids = await Promise.all(nodes.map(async (n) => (await n.call('GET', '/KeyfactorAPI/CertificateAuthority')).body.map((c: { Id: number }) => c.Id)));
      expect(ids[0]).toEqual(ids[1]);
      expect(ids[0]).toHaveLength(1);
      const [record] = await nodes[0]!.server.services.store.certificates.listCas();
      const keys = pkcs11KeysOf(record!)!;
      const listed = pkcs11Tool(hsm.conf, ['--token-label', 'race-token', '--login', '--pin', PIN, '--list-objects', '--type', 'privkey']);
      const labels = [...listed.out.matchAll(/label:\s+(countersign-\S+)/g)].map((m) => m[1]).sort();
      expect(labels).toEqual([keys.issuingKey.label, keys.rootKey.label].sort());
      // Both nodes sign at once, many times: one token session, operations queued (no CKR_OPERATION_ACTIVE).
      const chains = await Promise.all(Array.from({ length: 8 }, (_, i) => enroll(nodes[i % 2]!, `race${i}.example.com`)));
      for (const chain of chains) expect(opensslVerify(chain[0]!, chain.slice(1))).toMatch(/OK/);
      // And straight at the connector, many signatures in flight at once.
      const ca = nodes[0]!.server.certificates.caById(record!.id);
      const spki = execFileSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: opensslCsr('p256').key });
      const issued = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          ca.issue(
            {
              subject: `CN=burst${i}.example.com`,
              publicKey: new Uint8Array(spki),
              sans: { dns: [`burst${i}.example.com`] },
              validityDays: 1,
              keyUsage: 128,
              extendedKeyUsages: [],
            },
            `burst-${i}`,
          ),
        ),
      );
      expect(new Set(issued.map((c) => c.serialNumber)).size).toBe(24);
    } finally {
      for (const n of nodes) await n.close();
    }
  }, 120_000);

  it('a store whose CA keys are in the store gets a second CA in the token when one is configured', async () => {
    const databaseUrl = await newDatabase();
    const before = await startTestApp({ databaseUrl, caKey });
    await before.close();
    // RSA this time (the first case's CA is P-384): RSASSA-PKCS1-v1_5 signatures made in the token.
    const t = await startTestApp({ databaseUrl, caKey, pkcs11: pkcs11('second-token'), caAlgorithm: 'RSA-3072' });
    try {
      const cas = (await t.call('GET', '/KeyfactorAPI/CertificateAuthority')).body as { LogicalName: string; Properties: string }[];
      expect(cas.map((c) => [c.LogicalName, JSON.parse(c.Properties).KeyStorage ?? 'store'])).toEqual([
        ['CountersignIssuingCA', 'store'],
        ['CountersignHsmIssuingCA', 'PKCS#11'],
      ]);
      const chain = await enroll(t, 'second.example.com', 'CountersignHsmIssuingCA');
      expect(opensslVerify(chain[0]!, chain.slice(1))).toMatch(/OK/);
      expect(execFileSync('openssl', ['x509', '-noout', '-text'], { input: chain[1]! }).toString()).toMatch(
        /Public-Key: \(3072 bit\)[\s\S]*Signature Algorithm: sha256WithRSAEncryption/,
      );
      const old = await enroll(t, 'old.example.com');
      expect(old[2]).not.toBe(chain[2]);
    } finally {
      await t.close();
    }
  }, 120_000);
});
