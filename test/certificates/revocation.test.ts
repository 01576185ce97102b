import { OCSPResponse } from '@peculiar/asn1-ocsp';
import { AsnConvert } from '@peculiar/asn1-schema';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceStatus } from '../../src/domain/status.ts';
import { P } from '../../src/security/permissions.ts';
import { approval, type EnrollmentApp, noop, publishedDefinition, startEnrollmentApp, step, type TestUser } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import type { HttpStandIn } from '../support/stand-ins/http.ts';
import { until } from '../support/until.ts';
import { opensslCsr } from './openssl.ts';
import { certText, crlText, ocspCheck, ocspRequest, ocspVerifyResponse, verifyWithCrl } from './relying-party.ts';

/*
 * Revocation over HTTP, checked by real relying-party tools: openssl verify -crl_check,
 * openssl crl and openssl ocsp against the CRL and OCSP URLs written into the certificates.
 * Runs on both stores (COUNTERSIGN_TEST_STORE).
 */

interface Issued {
  id: number;
  pem: string;
  serial: string;
  issuerPem: string;
  rootPem: string;
  chain: string[];
}

describe('revocation, CRL and OCSP', () => {
  let app: EnrollmentApp<'alice' | 'rita' | 'bob'>;
  let t: TestApp;
  let api: HttpStandIn;
  let alice: TestUser;
  let rita: TestUser;
  let bob: TestUser;
  let approvers: number;
  let caId: number;
  let crlUrl: string;
  let ocspUrl: string;

  const enroll = async (cn: string, template = 'Countersign'): Promise<Issued> => {
    const r = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      auth: alice.auth,
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256', `/CN=${cn}`, `DNS:${cn}`).csr, Template: template, IncludeChain: true },
    });
    expect(r.status, r.text).toBe(200);
    const info = r.body.CertificateInformation;
    expect(info.RequestDisposition).toBe('ISSUED');
    const chain = info.Certificates as string[];
    return { id: info.KeyfactorID, pem: chain[0]!, serial: info.SerialNumber, issuerPem: chain[1]!, rootPem: chain[2]!, chain: chain.slice(1) };
  };
  const revoke = (body: Record<string, unknown>, auth?: string) => t.call('POST', '/KeyfactorAPI/Certificates/Revoke', { auth: auth ?? rita.auth, body });
  const crl = async () => {
    const r = await fetch(crlUrl);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pkix-crl');
    return new Uint8Array(await r.arrayBuffer());
  };
  const ocsp = (c: Issued, o: Parameters<typeof ocspCheck>[4] = {}) => ocspCheck(ocspUrl, c.issuerPem, c.rootPem, c.pem, o);
  const cert = async (id: number) => (await t.call('GET', `/KeyfactorAPI/Certificates/${id}`)).body;

  beforeAll(async () => {
    app = await startEnrollmentApp({
      users: ['alice', 'rita', 'bob'],
      requesters: ['alice'],
      roles: [{ name: 'Revokers', permissions: [P.certificatesRevoke, P.certificatesRead], members: ['rita'] }],
      approvers: ['bob'],
    });
    ({ t, api, approvers } = app);
    ({ alice, rita, bob } = app.users);
    caId = (await t.call('GET', '/KeyfactorAPI/CertificateAuthority')).body[0].Id;
    crlUrl = `${t.url}/pki/${caId}/crl`;
    ocspUrl = `${t.url}/pki/${caId}/ocsp`;
  });
  afterAll(async () => app?.close());

  it('issued certificates name the CRL and the OCSP responder; the inventory lists the CRL URL', async () => {
    const c = await enroll('urls.example.com');
    const text = await certText(c.pem);
    expect(text).toContain(`URI:${crlUrl}`);
    expect(text).toMatch(new RegExp(`OCSP - URI:${ocspUrl.replace(/[.]/g, '\\.')}`));
    expect(text).toContain(`CA Issuers - URI:${t.url}/pki/${caId}/ca.crt`);
    expect((await cert(c.id)).CRLDistributionPoints).toEqual([{ Id: 1, Url: crlUrl, UrlHash: null }]);
    const ca = await fetch(`${t.url}/pki/${caId}/ca.crt`);
    expect(ca.headers.get('content-type')).toBe('application/pkix-cert');
    expect(Buffer.from(await ca.arrayBuffer()).toString('base64')).toBe(c.issuerPem.replace(/-----[^-]+-----|\s/g, ''));
  });

  it('no workflow bound: revoked at once; openssl verify -crl_check, openssl crl and openssl ocsp see it', async () => {
    const c = await enroll('revoke.example.com');
    const before = await verifyWithCrl(c.pem, c.chain, await crl());
    expect(before.ok, before.out).toBe(true);
    const good = await ocsp(c);
    expect(good.ok, good.out).toBe(true);
    expect(good.out).toContain('Response verify OK');
    expect(good.status).toBe('good');

    const res = await revoke({ CertificateIds: [c.id], Reason: 1, Comment: 'key leaked', EffectiveDate: '2026-01-02T03:04:05Z' });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ RevokedIds: [c.id], SuspendedCerts: [] });

    const after = await verifyWithCrl(c.pem, c.chain, await crl());
    expect(after.ok).toBe(false);
    expect(after.out).toMatch(/certificate revoked/);
    const listed = await crlText(await crl(), c.issuerPem);
    expect(listed.ok, listed.out).toBe(true);
    expect(listed.out).toContain('verify OK');
    expect(listed.out).toContain(`Serial Number: ${c.serial}`);
    expect(listed.out).toMatch(/Key Compromise/);
    expect(listed.out).toMatch(/X509v3 CRL Number/);
    const revoked = await ocsp(c);
    expect(revoked.out).toContain('Response verify OK');
    expect(revoked.status).toBe('revoked');
    expect(revoked.out).toMatch(/Reason: keyCompromise/);
    expect(revoked.out).toMatch(/Revocation Time: Jan {2}2 03:04:05 2026 GMT/);

    // The audit log has it (appended asynchronously, in emit order).
    const audited = await until(async () => {
      const r = await t.call('GET', `/KeyfactorAPI/Audit?ReturnLimit=50&QueryString=${encodeURIComponent('Category -eq 4')}`);
      return r.body.map((e: { Message: string }) => e.Message).find((m: string) => m.includes(`Certificate ${c.id} (serial`));
    });
    expect(audited).toBe(`Certificate ${c.id} (serial ${c.serial}) revoked with reason 1 by rita.`);

    // Deleting it from the inventory would take it off the CRL: refused until it expires.
    const del = await t.call('DELETE', `/KeyfactorAPI/Certificates/${c.id}`, { unchecked: true });
    expect(del.status).toBe(409);
    expect(del.body.Message).toMatch(/take it off the CRL/);

    const body = await cert(c.id);
    expect(body).toMatchObject({ CertState: 2, CertStateString: 'Revoked', RevocationReason: 1, RevocationComment: 'key leaked', RevocationEffDate: '2026-01-02T03:04:05.000Z' });
    const history = (await t.call('GET', `/KeyfactorAPI/Certificates/${c.id}/History`, { unchecked: true })).body;
    expect(history.at(-1)).toMatchObject({ Action: 'Revoked', Username: 'rita', Comment: 'Key compromised: key leaked' });
    // The inventory hides revoked certificates unless asked (includeRevoked).
    const q = encodeURIComponent(`Id -eq ${c.id}`);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${q}`)).body).toHaveLength(0);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${q}&includeRevoked=true`)).body).toHaveLength(1);
    const byReason = encodeURIComponent(`RevocationReason -eq 1 AND RevocationEffDate -lt "2026-01-03T00:00:00Z" AND Id -eq ${c.id}`);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates?QueryString=${byReason}&includeRevoked=true`)).body.map((x: { Id: number }) => x.Id)).toEqual([c.id]);
  });

  it('hold (6) and release (-1) as RFC 5280 says: on hold is revoked with certificateHold, released is good again; a hold may become permanent, a revocation may not be released', async () => {
    const c = await enroll('hold.example.com');
    expect((await revoke({ CertificateIds: [c.id], Reason: 6, Comment: 'investigating' })).body.RevokedIds).toEqual([c.id]);
    const held = await ocsp(c);
    expect(held.status).toBe('revoked');
    expect(held.out).toMatch(/Reason: certificateHold/);
    expect((await crlText(await crl(), c.issuerPem)).out).toMatch(
      new RegExp(`Serial Number: ${c.serial}\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Certificate Hold`),
    );
    expect(await cert(c.id)).toMatchObject({ CertState: 2, RevocationReason: 6 });
    // On hold twice: refused.
    const again = await revoke({ CertificateIds: [c.id], Reason: 6, Comment: 'again' });
    expect(again.status).toBe(400);
    expect(again.body.ErrorCode).toBe('0xA5C00090');

    expect((await revoke({ CertificateIds: [c.id], Reason: -1, Comment: 'all clear' })).body.RevokedIds).toEqual([c.id]);
    expect((await ocsp(c)).status).toBe('good');
    expect((await crlText(await crl(), c.issuerPem)).out).not.toContain(c.serial);
    expect((await verifyWithCrl(c.pem, c.chain, await crl())).ok).toBe(true);
    expect(await cert(c.id)).toMatchObject({ CertState: 1, CertStateString: 'Active', RevocationReason: 999, RevocationEffDate: null });

    // Releasing what is not on hold: refused; hold, then revoke for good (8 "Remove from CRL" would release, 4 supersedes).
    expect((await revoke({ CertificateIds: [c.id], Reason: 8, Comment: 'x' })).body.ErrorCode).toBe('0xA5C00090');
    await revoke({ CertificateIds: [c.id], Reason: 6, Comment: 'hold again' });
    expect((await revoke({ CertificateIds: [c.id], Reason: 4, Comment: 'replaced' })).status).toBe(200);
    const superseded = await ocsp(c);
    expect(superseded.status).toBe('revoked');
    expect(superseded.out).toMatch(/Reason: superseded/);
    const release = await revoke({ CertificateIds: [c.id], Reason: -1, Comment: 'undo?' });
    expect(release.status).toBe(400);
    expect(release.body.Message).toMatch(/revoked already/);
    expect((await ocsp(c)).status).toBe('revoked');
  });

  it('OCSP: unknown serials are unknown; nonces are echoed; without a nonce the answer comes from the cache; GET form; malformed requests', async () => {
    const c = await enroll('ocsp.example.com');
    const unknown = await ocspCheck(ocspUrl, c.issuerPem, c.rootPem, null, { serial: '0123456789ABCDEF' });
    expect(unknown.out).toContain('Response verify OK');
    expect(unknown.status).toBe('unknown');

    const withNonce = await ocsp(c);
    expect(withNonce.out).toMatch(/OCSP Nonce:/);
    expect(withNonce.out).not.toMatch(/WARNING: no nonce/);
    expect(withNonce.out).toContain('Response verify OK');

    const first = await ocsp(c, { nonce: false, respout: true });
    const second = await ocsp(c, { nonce: false, respout: true });
    expect(first.status).toBe('good');
    expect(second.response!.equals(first.response!)).toBe(true);
    // A revocation invalidates the cached answer at once.
    await revoke({ CertificateIds: [c.id], Reason: 5, Comment: 'decommissioned' });
    const third = await ocsp(c, { nonce: false, respout: true });
    expect(third.status).toBe('revoked');
    expect(third.response!.equals(first.response!)).toBe(false);

    // Cache poisoning: a CertID naming another issuer (the root) with this serial is answered
    // unknown, and that answer is never served to a CertID of the real issuer.
    const other = await enroll('poison.example.com');
    const foreign = await ocspCheck(ocspUrl, c.rootPem, c.rootPem, null, { serial: other.serial, nonce: false });
    expect(foreign.status).toBe('unknown');
    expect((await ocsp(other, { nonce: false })).status).toBe('good');

    // GET {url}/{url-encoded base64 of the request} (RFC 6960 A.1).
    const req = await ocspRequest(c.issuerPem, c.pem);
    const get = await fetch(`${ocspUrl}/${encodeURIComponent(req.toString('base64'))}`);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/ocsp-response');
    const viaGet = await ocspVerifyResponse(Buffer.from(await get.arrayBuffer()), c.issuerPem, c.rootPem, c.pem);
    expect(viaGet.out).toContain('Response verify OK');
    expect(viaGet.status).toBe('revoked');

    // Not an OCSP request: an OCSPResponse with status malformedRequest (1), unsigned, not an HTTP error.
    for (const body of [Buffer.from('nonsense'), Buffer.alloc(0)]) {
      const bad = await fetch(ocspUrl, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
      expect(bad.status).toBe(200);
      expect(Buffer.from(await bad.arrayBuffer()).toString('hex')).toBe('30030a0101');
    }
    const badGet = await fetch(`${ocspUrl}/!!not-base64!!`);
    expect(Buffer.from(await badGet.arrayBuffer()).toString('hex')).toBe('30030a0101');
    expect((await fetch(`${t.url}/pki/999/crl`)).status).toBe(404);
    expect((await fetch(`${t.url}/pki/x/crl`)).status).toBe(404);
    const tooBig = await fetch(ocspUrl, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.alloc(64 * 1024) });
    expect(tooBig.status).toBe(413);
  });

  it('OCSP under hostile input: random and mutated requests always get an OCSPResponse, never an error page', async () => {
    const c = await enroll('fuzz.example.com');
    const valid = new Uint8Array(await ocspRequest(c.issuerPem, c.pem, true));
    const mutated = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.nat({ max: valid.length })).map(([at, xor, cut]) => {
      const b = Uint8Array.from(valid);
      b[at] = b[at]! ^ xor;
      return b.subarray(0, Math.max(cut, at + 1));
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), fc.boolean(), async (body, viaGet) => {
        const res = viaGet
          ? await fetch(`${ocspUrl}/${encodeURIComponent(Buffer.from(body).toString('base64'))}`)
          : await fetch(ocspUrl, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
        expect(res.status).toBe(200);
        const parsed = AsnConvert.parse(await res.arrayBuffer(), OCSPResponse);
        expect([0, 1]).toContain(parsed.responseStatus);
      }),
      { numRuns: 150 },
    );
  });

  it('bad input: Keyfactor errors, and nothing changes for any certificate of the request', async () => {
    const c = await enroll('bad.example.com');
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ CertificateIds: [c.id], Reason: 1 }, 400, /Comment is required/],
      [{ CertificateIds: [c.id], Reason: 1, Comment: '   ' }, 400, /Comment must not be empty/],
      [{ CertificateIds: [], Reason: 1, Comment: 'x' }, 400, /CertificateIds is required/],
      [{ CertificateIds: 'all', Reason: 1, Comment: 'x' }, 400, /CertificateIds (is required|must be a JSON array)/],
      [{ CertificateIds: [c.id, -3], Reason: 1, Comment: 'x' }, 400, /positive whole numbers/],
      // The wire schema (src/api/schema) catches a fraction before the handler does.
      [{ CertificateIds: [c.id, 1.5], Reason: 1, Comment: 'x' }, 400, /positive whole numbers|must be a whole number/],
      [{ CertificateIds: [c.id], Reason: 999, Comment: 'x' }, 400, /Reason 999 is not a revocation reason/],
      [{ CertificateIds: [c.id], Reason: 42, Comment: 'x' }, 400, /Reason 42/],
      [{ CertificateIds: [c.id], Reason: 'bad', Comment: 'x' }, 400, /Reason must be a whole number/],
      [{ CertificateIds: [c.id], Reason: 1, Comment: 'x', EffectiveDate: 'yesterday' }, 400, /EffectiveDate/],
      [{ CertificateIds: [c.id, 987654], Reason: 1, Comment: 'x' }, 404, /No certificate has Id 987654/],
      [{ CertificateIds: [c.id], Reason: -1, Comment: 'x' }, 400, /not on hold/],
    ];
    for (const [body, status, message] of cases) {
      const r = await revoke(body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.Message).toMatch(message);
    }
    expect((await t.call('POST', '/KeyfactorAPI/Certificates/Revoke', { auth: rita.auth, raw: '{"CertificateIds":[' })).body.ErrorCode).toBe('0xA5C00002');
    // Without the revoke permission: 403, whoever requested the certificate.
    const denied = await revoke({ CertificateIds: [c.id], Reason: 1, Comment: 'mine' }, alice.auth);
    expect(denied.status).toBe(403);
    expect(denied.body.Message).toContain('/certificates/collections/revoke/');
    expect((await t.call('POST', '/KeyfactorAPI/Certificates/Revoke', { auth: null, body: { CertificateIds: [c.id], Reason: 1, Comment: 'x' } })).status).toBe(401);
    expect(await cert(c.id)).toMatchObject({ CertState: 1, RevocationReason: 999 });
    expect((await ocsp(c)).status).toBe('good');
    // One revoked certificate in the list refuses the whole request.
    const other = await enroll('bad2.example.com');
    await revoke({ CertificateIds: [other.id], Reason: 0, Comment: 'first' });
    const mixed = await revoke({ CertificateIds: [c.id, other.id], Reason: 1, Comment: 'both' });
    expect(mixed.status).toBe(400);
    expect(mixed.body.Message).toContain(`Certificate ${other.id}`);
    expect((await cert(c.id)).CertState).toBe(1);
  });

  it('RevokeStep: Revocation workflows only, at most one, no conditions, no parameters', async () => {
    const def = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { body: { DisplayName: 'r', Description: 'r', WorkflowType: 'Revocation', Key: '999' } });
    const put = (steps: unknown[], id = def.body.Id) => t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${id}/Steps`, { body: steps });
    expect((await put([noop('S', 'R1'), step('R1', 'RevokeStep', 'R2'), step('R2', 'RevokeStep', 'End'), noop('End')])).body.Message).toMatch(/at most 1 RevokeStep/);
    expect((await put([noop('S', 'R1'), step('R1', 'RevokeStep', 'End', { Conditions: [{ Value: 'true' }] }), noop('End')])).body.Message).toMatch(
      /RevokeStep takes no conditions/,
    );
    expect((await put([noop('S', 'R1'), step('R1', 'RevokeStep', 'End', { ConfigurationParameters: { X: 'y' } }), noop('End')])).body.Message).toMatch(/unknown parameter/);
    const enrollment = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { body: { DisplayName: 'e', Description: 'e', WorkflowType: 'Enrollment', Key: '999' } });
    expect((await put([noop('S', 'R1'), step('R1', 'RevokeStep', 'End'), noop('End')], enrollment.body.Id)).body.Message).toMatch(/only allowed in Revocation workflows/);
    expect((await put([noop('S', 'R1'), step('R1', 'RevokeStep', 'End'), noop('End')])).status).toBe(200);
  });

  it('an instance started by hand with a forged certificate id in its InitialData revokes nothing', async () => {
    const c = await enroll('forged.example.com');
    const id = await publishedDefinition(t, [noop('Start', 'End'), noop('End')], { type: 'Revocation', key: 'by-hand' });
    const started = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', {
      body: { DefinitionId: id, InitialData: { RevocationCertificateId: c.id, RevocationCode: 1, CertificateId: c.id, RevokeCode: 1 } },
    });
    expect(started.body.Status).toBe(InstanceStatus.Complete);
    expect((await cert(c.id)).CertState).toBe(1);
    expect((await ocsp(c)).status).toBe('good');
  });

  describe('with a Revocation workflow bound to the template', () => {
    let templateId: number;
    beforeAll(async () => {
      templateId = (await t.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Approved', ValidityDays: 30 }, unchecked: true })).body.Id;
      const tell = step('Tell', 'RESTRequest', 'End', {
        ConfigurationParameters: {
          Verb: 'POST',
          URL: `${api.url}/revoked/$(certid)`,
          Headers: {},
          ContentType: 'application/json',
          RequestContent: '{"cn":"$(cn)","comment":"$(cmnt)","code":"$(code)"}',
          DataBucketProperty: 'Told',
        },
      });
      // No RevokeStep in the definition: one is added at its end (implicitAtEnd), after the REST call.
      await publishedDefinition(t, [noop('Start', 'Approve'), approval('Approve', 'Tell', [approvers]), tell, noop('End')], { type: 'Revocation', key: String(templateId) });
    });

    it('waits for approval (SuspendedCerts), revokes when approved; tokens and InitialData as documented', async () => {
      const c = await enroll('approved.example.com', 'Approved');
      const res = await revoke({ CertificateIds: [c.id], Reason: 3, Comment: 'moved teams' });
      expect(res.status, res.text).toBe(200);
      expect(res.body.RevokedIds).toEqual([]);
      expect(res.body.SuspendedCerts).toHaveLength(1);
      const s = res.body.SuspendedCerts[0];
      expect(s.CertId).toBe(c.id);
      expect(s.Message).toMatch(/waits for approval/);
      expect((await ocsp(c)).status).toBe('good');
      expect((await cert(c.id)).CertState).toBe(1);

      const instance = (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${s.WorkflowId}`)).body;
      expect(instance.Status).toBe(InstanceStatus.Suspended);
      expect(instance.InitialData).toMatchObject({
        CertificateId: c.id,
        SerialNumberString: c.serial,
        RevokeCode: 3,
        Comment: 'moved teams',
        CertificateAuthority: 'countersign\\CountersignIssuingCA',
      });
      expect(typeof instance.InitialData.Thumbprint).toBe('string');
      expect(Date.parse(instance.InitialData.EffectiveDate)).not.toBeNaN();
      expect(Date.parse(instance.InitialData.OperationStart)).not.toBeNaN();

      await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${s.WorkflowId}/Signals`, { auth: bob.auth, body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: true } } });
      const done = await until(async () => {
        const i = (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${s.WorkflowId}`)).body;
        return i.Status === InstanceStatus.Complete && i;
      });
      expect(done.CurrentStateData['CA Certificate']).toMatchObject({ 'CA Certificate Id': c.id, Status: 'Revoked', 'Revocation Reason': 3 });
      expect(api.requests.map((r) => [r.url, JSON.parse(r.body)])).toEqual([[`/revoked/${c.id}`, { cn: 'approved.example.com', comment: 'moved teams', code: '3' }]]);
      expect(await cert(c.id)).toMatchObject({ CertState: 2, RevocationReason: 3, RevocationComment: 'moved teams' });
      const r = await ocsp(c);
      expect(r.status).toBe('revoked');
      expect(r.out).toMatch(/Reason: affiliationChanged/);
      expect((await verifyWithCrl(c.pem, c.chain, await crl())).out).toMatch(/certificate revoked/);
    });

    it('denied: the instance ends Rejected and the certificate stays valid', async () => {
      const c = await enroll('denied.example.com', 'Approved');
      const res = await revoke({ CertificateIds: [c.id], Reason: 1, Comment: 'please' });
      const id = res.body.SuspendedCerts[0].WorkflowId;
      await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { auth: bob.auth, body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: false } } });
      await until(async () => (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status === InstanceStatus.Rejected);
      expect(await cert(c.id)).toMatchObject({ CertState: 1, RevocationReason: 999 });
      expect((await ocsp(c)).status).toBe('good');
      expect((await verifyWithCrl(c.pem, c.chain, await crl())).ok).toBe(true);
    });

    it('a certificate of a template without its own workflow still revokes at once, in the same request', async () => {
      const a = await enroll('mixed-a.example.com', 'Approved');
      const b = await enroll('mixed-b.example.com');
      const res = await revoke({ CertificateIds: [a.id, b.id], Reason: 0, Comment: 'mixed' });
      expect(res.body.RevokedIds).toEqual([b.id]);
      expect(res.body.SuspendedCerts.map((s: { CertId: number }) => s.CertId)).toEqual([a.id]);
    });
  });
});

describe('a customised global Revocation workflow (no key)', () => {
  let t: TestApp;
  afterAll(async () => t?.close());

  it('covers templates without their own; the RevokeStep reached at once revokes during the call, and the runner does not revoke twice', async () => {
    t = await startTestApp();
    const created = await t.call('POST', '/KeyfactorAPI/Workflow/Definitions', { body: { DisplayName: 'Global revocation', Description: 'g', WorkflowType: 'Revocation' } });
    expect(created.status, created.text).toBe(200);
    await t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${created.body.Id}/Steps`, { body: [noop('Start', 'End'), noop('End')] });
    expect((await t.call('POST', `/KeyfactorAPI/Workflow/Definitions/${created.body.Id}/Publish`)).status).toBe(200);
    const r = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256', '/CN=global.example.com', 'DNS:global.example.com').csr, Template: 'Countersign', IncludeChain: true },
    });
    const id = r.body.CertificateInformation.KeyfactorID;
    const res = await t.call('POST', '/KeyfactorAPI/Certificates/Revoke', { body: { CertificateIds: [id], Reason: 5, Comment: 'gone' } });
    expect(res.body).toEqual({ RevokedIds: [id], SuspendedCerts: [] });
    const instances = await until(async () => {
      const list = (await t.call('GET', `/KeyfactorAPI/Workflow/Instances?QueryString=${encodeURIComponent('WorkflowType -eq "Revocation"')}`, { unchecked: true })).body;
      return list.length === 1 && list[0].Status === InstanceStatus.Complete && list;
    });
    expect(instances[0].Title).toMatch(/global\.example\.com/);
    const history = (await t.call('GET', `/KeyfactorAPI/Certificates/${id}/History`, { unchecked: true })).body;
    expect(history.filter((h: { Action: string }) => h.Action === 'Revoked')).toHaveLength(1);
    expect((await t.call('GET', `/KeyfactorAPI/Certificates/${id}`)).body).toMatchObject({ CertState: 2, RevocationReason: 5 });
  });
});

describe('OCSP with the store gone', () => {
  let t: TestApp;
  afterAll(async () => t?.close());

  it('answers tryLater (an OCSP response), not an error page', async () => {
    t = await startTestApp();
    const r = await t.call('POST', '/KeyfactorAPI/Enrollment/CSR', {
      headers: { 'x-certificateformat': 'PEM' },
      body: { CSR: opensslCsr('p256', '/CN=later.example.com', 'DNS:later.example.com').csr, Template: 'Countersign', IncludeChain: true },
    });
    const [leaf, issuer] = r.body.CertificateInformation.Certificates as string[];
    const caId = (await t.call('GET', '/KeyfactorAPI/CertificateAuthority')).body[0].Id;
    const request = new Uint8Array(await ocspRequest(issuer!, leaf!, true));
    const ask = async () =>
      Buffer.from(await (await fetch(`${t.url}/pki/${caId}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: request })).arrayBuffer());
    expect((await ask()).length).toBeGreaterThan(100);
    // The store failing as it does when its database is unreachable (closing it for real would also end the test's clean-up).
    const certs = t.server.services.store.certificates;
    const real = certs.findBySerial;
    certs.findBySerial = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    };
    try {
      expect((await ask()).toString('hex')).toBe('30030a0103');
    } finally {
      certs.findBySerial = real;
    }
    expect((await ask()).length).toBeGreaterThan(100);
  });
});
