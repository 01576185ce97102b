import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, createUser, noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { opensslCsr } from './openssl.ts';

const N = 50;

describe('50 concurrent enrollments with approvals', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('every request ends issued (one certificate) or denied (none); none twice, none missing', async () => {
    const s = t.server.services.store;
    const requester = await createUser(s, 'requester');
    const approver = await createUser(s, 'approver');
    await createRole(s, 'Enrollers', [P.enrollCsr], [requester.id]);
    const role = await createRole(s, 'Approvers', [P.instancesReadPending], [approver.id]);
    const template = (await t.call('GET', '/KeyfactorAPI/Templates')).body[0].Id as number;
    await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'End', [role]), noop('End')], { key: String(template) });

    const csrs = Array.from({ length: N }, (_, i) => opensslCsr('p256', `/CN=c${i}.example.com`, `DNS:c${i}.example.com`).csr);
    const answers = await Promise.all(
      csrs.map((CSR) =>
        t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
          auth: requester.auth,
          headers: { 'x-certificateformat': 'PEM' },
          body: { CSR, Template: 'Countersign', IncludeChain: true },
        }),
      ),
    );
    const infos = answers.map((a) => {
      expect(a.status, a.text).toBe(200);
      expect(a.body.CertificateInformation.RequestDisposition).toBe('PENDING');
      return a.body.CertificateInformation as { KeyfactorRequestId: number; WorkflowInstanceId: string };
    });
    expect(new Set(infos.map((i) => i.KeyfactorRequestId)).size).toBe(N);
    // Approve the even ones and deny the odd ones, all at once.
    const decide = (i: number) =>
      t.call('POST', `/KeyfactorAPI/Workflow/Instances/${infos[i]!.WorkflowInstanceId}/Signals`, {
        auth: approver.auth,
        body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: i % 2 === 0 } },
      });
    const results = await Promise.all([...infos.keys()].map(decide));
    expect(results.every((r) => r.status === 204)).toBe(true);

    const deadline = Date.now() + 60_000;
    let certs: { CertRequestId: number }[] = [];
    for (;;) {
      certs = (await t.call('GET', '/KeyfactorAPI/Certificates?ReturnLimit=1000')).body;
      if (certs.length >= N / 2 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    certs = (await t.call('GET', '/KeyfactorAPI/Certificates?ReturnLimit=1000')).body;
    const issuedFor = certs.map((c) => c.CertRequestId).sort((a, b) => a - b);
    const approved = infos
      .filter((_, i) => i % 2 === 0)
      .map((i) => i.KeyfactorRequestId)
      .sort((a, b) => a - b);
    expect(issuedFor).toEqual(approved);
    for (const [i, info] of infos.entries()) {
      const inst = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${info.WorkflowInstanceId}`);
      expect(inst.body.Status).toBe(i % 2 === 0 ? 3 : 4);
    }
  }, 120_000);
});
