import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { startNode, stopNode, type Node } from '../multinode/cluster.ts';
import { opensslCsr, opensslVerify } from './openssl.ts';
import { ocspCheck, ocspRequest, ocspVerifyResponse, verifyWithCrl } from './relying-party.ts';

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

/*
 * Revocation across nodes: a revocation made through one node shows in another node's OCSP
 * answer within a second (each node re-reads the CA's revocation revision every 500 ms by
 * default) and in its CRL, checked by openssl.
 */
describe.runIf(usePostgres())('revocation seen by every node', () => {
  const nodes: Node[] = [];
  let url = '';
  afterAll(async () => {
    for (const n of nodes) await stopNode(n);
    if (url) await dropTestDatabase(url);
  });

  it('revoked through node A: node B answers OCSP revoked within a second, and its CRL lists it', async () => {
    url = await testDatabaseUrl();
    const key = randomBytes(32).toString('base64');
    nodes.push(await startNode(url, { COUNTERSIGN_CA_KEY: key }));
    nodes.push(await startNode(url, { COUNTERSIGN_CA_KEY: key }));
    const [a, b] = nodes as [Node, Node];
    const r = await a.app.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256', '/CN=multi.example.com', 'DNS:multi.example.com').csr, Template: 'Countersign', IncludeChain: true },
    });
    expect(r.status, r.text).toBe(200);
    const info = r.body.CertificateInformation;
    const [leaf, issuer, root] = info.Certificates as [string, string, string];
    const caId = (await b.app.call('GET', '/KeyfactorAPI/CertificateAuthority')).body[0].Id;
    const ocspB = `${b.url}/pki/${caId}/ocsp`;
    // Node B answers (and caches) "good" first.
    const before = await ocspCheck(ocspB, issuer, root, leaf, { nonce: false });
    expect(before.out).toContain('Response verify OK');
    expect(before.status).toBe('good');
    const request = await ocspRequest(issuer, leaf);
    const askB = async () =>
      Buffer.from(await (await fetch(ocspB, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(request) })).arrayBuffer());
    expect((await ocspVerifyResponse(await askB(), issuer, root, leaf)).status).toBe('good');

    const revoked = await a.app.call('POST', '/KeyfactorAPI/Certificates/Revoke', { body: { CertificateIds: [info.KeyfactorID], Reason: 1, Comment: 'across nodes' } });
    expect(revoked.body.RevokedIds).toEqual([info.KeyfactorID]);
    // The bound under test: one second after the revocation, node B's answer has it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await ocspVerifyResponse(await askB(), issuer, root, leaf);
    expect(after.out).toContain('Response verify OK');
    expect(after.status).toBe('revoked');
    expect((await ocspCheck(ocspB, issuer, root, leaf)).status).toBe('revoked');
    const crl = new Uint8Array(await (await fetch(`${b.url}/pki/${caId}/crl`)).arrayBuffer());
    const verified = await verifyWithCrl(leaf, [issuer, root], crl);
    expect(verified.ok).toBe(false);
    expect(verified.out).toMatch(/certificate revoked/);
  }, 120_000);
});
