import { randomUUID } from 'node:crypto';
import { defaultTemplate } from '../certificates/policy.ts';
import { toPem, x509 } from '../certificates/x509.ts';
import type { CertificateService } from '../service/certificates.ts';
import { hashPassword } from '../security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../security/permission-set.ts';
import { P } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { WorkflowService } from '../service/workflow.ts';
import type { Store } from '../store/store.ts';

/** Demo identities. Their passwords are public (README): for trying Countersign, never for production. */
export const DEMO_USERS = [
  { accountName: 'CORP\\alice', password: 'alice-demo-1', email: 'alice@corp.example' },
  { accountName: 'CORP\\bob', password: 'bob-demo-1', email: 'bob@corp.example' },
  { accountName: 'CORP\\carol', password: 'carol-demo-1', email: 'carol@corp.example' },
];

/**
 * The demo's requests, in the order they are filed: real CSRs, each signed by a key made here.
 * vpn-gw01 keeps an RSA 2048 key: filed while WebServer accepted 2048 bits, it is outside the
 * policy once the template asks for 3072 (below), which the approvers see flagged.
 */
const REQUESTS: { cn: string; key: { name: 'RSASSA-PKCS1-v1_5'; modulusLength: number } | { name: 'ECDSA'; namedCurve: string } }[] = [
  { cn: 'appsrvr12.corp.example', key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072 } },
  { cn: 'vpn-gw01.corp.example', key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048 } },
  { cn: 'payments.corp.example', key: { name: 'ECDSA', namedCurve: 'P-256' } },
];

/** The demo template's RSA minimum once the requests are filed. */
export const DEMO_MIN_RSA_BITS = 3072;

/** A PKCS#10 request for CN=<cn>,O=Corp,C=US with the DNS name cn, signed by a fresh key. */
export async function demoCsr(cn: string, key: (typeof REQUESTS)[number]['key']): Promise<string> {
  const algorithm = key.name === 'ECDSA' ? { ...key, hash: 'SHA-256' } : { ...key, hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) };
  const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${cn},O=Corp,C=US`,
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: cn }])],
  });
  return toPem(new Uint8Array(csr.rawData), 'CERTIFICATE REQUEST');
}

/**
 * Loads the demo on an empty store: approvers alice and bob, requester carol, a WebServer
 * template, an Enrollment definition bound to it whose RequireApproval step needs both
 * approvers, and three real CSR enrollments by carol waiting for them. Does nothing when
 * definitions already exist.
 */
export async function loadDemo(store: Store, wf: WorkflowService, certs: CertificateService, log: (m: string) => void): Promise<void> {
  const existing = await store.listDefinitions({ filter: null, limit: 1, offset: 0, sortColumn: 'id', ascending: true });
  if (existing.length > 0) return;
  const ids: Record<string, number> = {};
  for (const u of DEMO_USERS) {
    const found = await store.findIdentityByName(u.accountName);
    const identity = found ?? (await store.createIdentity({ accountName: u.accountName, identityType: 'User', sid: null, email: u.email, passwordHash: await hashPassword(u.password), createdAt: new Date().toISOString() }));
    ids[u.accountName] = identity.id;
  }
  const role = (name: string, description: string, permissions: string[], members: number[]) =>
    store.createRole({ name, description, email: null, enabled: true, private: false, immutable: false, permissions, permissionSetId: GLOBAL_PERMISSION_SET_ID, identityIds: members, claims: [] });
  const approvers = await role('PKI Approvers', 'Approve certificate requests', [P.instancesReadAll, P.instancesReadPending, P.definitionsRead, P.certificatesRead], [ids['CORP\\alice'], ids['CORP\\bob']]);
  const requesterPermissions = [P.instancesStart, P.instancesReadMine, P.enrollCsr, P.enrollPfx];
  await role('Requesters', 'Request certificates', requesterPermissions, [ids['CORP\\carol']]);

  const base = defaultTemplate();
  const template = await store.certificates.insertTemplate({
    ...base,
    commonName: 'WebServer',
    displayName: 'Web Server',
    friendlyName: 'Web Server',
    oid: '1.3.6.1.4.1.55555.1.2',
    requiresApproval: true,
    extendedKeyUsages: base.extendedKeyUsages.slice(0, 1),
    policy: { ...base.policy, minRsaBits: 2048, sanTypes: ['dns', 'ip'] },
  });
  const def = await wf.createDefinition({ displayName: 'Web Server Enrollment', description: 'Two PKI approvers approve every web server certificate.', workflowType: 'Enrollment', keys: [{ value: String(template.id), displayName: template.commonName }], enabled: true });
  await wf.putSteps(def.id, [
    step('NOOPStep', 'StartNOOP', 'Start-NOOP', {}, [], { continue: 'RequireApproval1' }),
    step('RequireApproval', 'RequireApproval1', 'PKI approval', { MinimumApprovals: 2, DenialsToReject: 1 }, [approvers.id], { continue: 'EndNOOP' }),
    step('NOOPStep', 'EndNOOP', 'End-NOOP', {}, [], {}),
  ]);
  await wf.publish(def.id);

  const carol = await store.findIdentityByName('CORP\\carol');
  const principal: Principal = { identity: carol!, roleIds: [], permissions: requesterPermissions };
  for (const r of REQUESTS) {
    const csr = await demoCsr(r.cn, r.key);
    await certs.enrollment.enroll(
      { kind: 'CSR', csr, privateKey: null, subject: null, keyType: null, keyLength: null, curve: null, template: template.commonName, enrollmentPatternId: null, certificateAuthority: null, sans: {}, metadata: { Owner: 'web team' }, additionalFields: {}, includeChain: false, deliverKeyNow: false },
      principal,
    );
  }
  // The PKI team raises the minimum after the requests were filed: vpn-gw01's 2048-bit key is now outside policy.
  await store.certificates.updateTemplate({ ...template, policy: { ...template.policy, minRsaBits: DEMO_MIN_RSA_BITS } });
  log(`Demo loaded: template "WebServer" (RSA ${DEMO_MIN_RSA_BITS}+ or P-256/P-384), definition "Web Server Enrollment" (${def.id}) with ${REQUESTS.length} CSR enrollments by CORP\\carol waiting for two approvals from CORP\\alice and CORP\\bob.`);
}

function step(extensionName: string, uniqueName: string, displayName: string, config: Record<string, number>, roleIds: number[], outputs: Record<string, string>) {
  return {
    id: randomUUID(),
    extensionName,
    uniqueName,
    displayName,
    enabled: true,
    config,
    signals: roleIds.length ? [{ name: 'ApprovalStatus', roleIds, roleTokens: [] }] : [],
    conditions: [],
    outputs,
  };
}
