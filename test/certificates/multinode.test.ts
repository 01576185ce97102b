import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { startNode, stopNode, type Node } from '../multinode/cluster.ts';
import { opensslCsr, opensslVerify } from './openssl.ts';

/*
 * Three PostgreSQL nodes started together on a fresh store with one configured key: one CA is
 * created (the others load it), and every node issues with it. Runs with
 * COUNTERSIGN_TEST_STORE=postgres (the only store several nodes share).
 */
describe.runIf(usePostgres())('one CA for every node', () => {
  const nodes: Node[] = [];
  let url = '';
  afterAll(async () => {
    for (const n of nodes) await stopNode(n);
    if (url) await dropTestDatabase(url);
  });

  it('three nodes starting at once share one CA and all issue with it', async () => {
    url = await testDatabaseUrl();
    const key = randomBytes(32).toString('base64');
    nodes.push(...(await Promise.all([0, 1, 2].map(() => startNode(url, { COUNTERSIGN_CA_KEY: key })))));
    const cas = await Promise.all(nodes.map(async (n) => (await n.app.call('GET', '/KeyfactorAPI/CertificateAuthority')).body));
    expect(cas.every((c) => c.length === 1 && c[0].Id === cas[0][0].Id)).toBe(true);
    expect((await nodes[0]!.app.call('GET', '/KeyfactorAPI/Templates')).body).toHaveLength(1);
    const issued = await Promise.all(
      nodes.map(async (n) => {
        const r = await n.app.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
          headers: { 'x-certificateformat': 'PEM' },
          body: { CSR: opensslCsr('p256').csr, Template: 'Countersign', IncludeChain: true },
        });
        expect(r.status, r.text).toBe(200);
        return r.body.CertificateInformation as { IssuerDN: string; Certificates: string[] };
      }),
    );
    expect(new Set(issued.map((i) => i.IssuerDN)).size).toBe(1);
    for (const i of issued) expect(opensslVerify(i.Certificates[0]!, issued[0]!.Certificates.slice(1))).toMatch(/OK/);
  }, 120_000);
});
