import { randomUUID } from 'node:crypto';
import { defaultTemplate } from '../certificates/policy.ts';
import type { Template } from '../certificates/types.ts';
import { toPem, x509 } from '../certificates/x509.ts';
import { hashPassword } from '../security/password.ts';
import { GLOBAL_PERMISSION_SET_ID } from '../security/permission-set.ts';
import { P } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { CertificateService } from '../service/certificates.ts';
import type { WorkflowService } from '../service/workflow.ts';
import type { Role, Store } from '../store/store.ts';

/** Demo identities. Their passwords are public (README): for trying Countersign, never for production. */
export const DEMO_USERS = [
  { accountName: 'CORP\\alice', password: 'alice-demo-1', email: 'alice@corp.example' },
  { accountName: 'CORP\\bob', password: 'bob-demo-1', email: 'bob@corp.example' },
  { accountName: 'CORP\\carol', password: 'carol-demo-1', email: 'carol@corp.example' },
];

type DemoKey = { name: 'RSASSA-PKCS1-v1_5'; modulusLength: number } | { name: 'ECDSA'; namedCurve: string };

/**
 * The demo's requests, in the order they are filed: real CSRs, each signed by a key made here
 * and discarded. vpn-gw01 has an RSA 2048 key: filed while WebServer accepted 2048 bits, it is
 * outside the policy once the template asks for 3072 (below), which approvers see flagged.
 */
const REQUESTS: { host: string; key: DemoKey }[] = [
  { host: 'appsrvr12', key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072 } },
  { host: 'vpn-gw01', key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048 } },
  { host: 'payments', key: { name: 'ECDSA', namedCurve: 'P-256' } },
];

const DEMO_DEFINITION = 'Web Server Enrollment';
const DEMO_TEMPLATE = 'WebServer';
/** The demo template's RSA minimum once the requests are filed. */
export const DEMO_MIN_RSA_BITS = 3072;

/** A PKCS#10 request for CN=<cn>,O=Corp,C=US with the DNS name cn, signed by a fresh key. */
export async function demoCsr(cn: string, key: DemoKey): Promise<string> {
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
  if (await hasDefinitions(store)) return;
  const { approvers } = await ensureUsersAndRoles(store);
  const base = defaultTemplate();
  const template = await store.certificates.insertTemplate({
    ...base,
    commonName: DEMO_TEMPLATE,
    displayName: 'Web Server',
    friendlyName: 'Web Server',
    oid: '1.3.6.1.4.1.55555.1.2',
    requiresApproval: true,
    extendedKeyUsages: base.extendedKeyUsages.slice(0, 1),
    policy: { ...base.policy, minRsaBits: DEMO_MIN_RSA_BITS, sanTypes: ['dns', 'ip'] },
  });
  const def = await wf.createDefinition({
    displayName: DEMO_DEFINITION,
    description: 'Two PKI approvers approve every web server certificate.',
    workflowType: 'Enrollment',
    keys: [{ value: String(template.id), displayName: template.commonName }],
    enabled: true,
  });
  await wf.putSteps(def.id, [
    step('NOOPStep', 'StartNOOP', 'Start-NOOP', {}, [], { continue: 'RequireApproval1' }),
    step('RequireApproval', 'RequireApproval1', 'PKI approval', { MinimumApprovals: 2, DenialsToReject: 1 }, [approvers.id], { continue: 'EndNOOP' }),
    step('NOOPStep', 'EndNOOP', 'End-NOOP', {}, [], {}),
  ]);
  await wf.publish(def.id);
  await enrollRequests(store, certs, template, '');
  log(
    `Demo loaded: definition "${DEMO_DEFINITION}" (${def.id}) with ${REQUESTS.length} requests waiting for two approvals from CORP\\alice and CORP\\bob ` +
      `(real CSR enrollments by CORP\\carol on template "${DEMO_TEMPLATE}", which asks for RSA ${DEMO_MIN_RSA_BITS}+ or P-256/P-384).`,
  );
}

/**
 * `serve --demo --reseed`: on a store that has the demo, enrolls three more CSRs by carol on its
 * template, so the walkthrough can be repeated. Users and roles are created only where missing;
 * nothing is deleted or overwritten. On an empty store it loads the demo as usual.
 */
export async function reseedDemo(store: Store, wf: WorkflowService, certs: CertificateService, log: (m: string) => void): Promise<void> {
  if (!(await hasDefinitions(store))) return loadDemo(store, wf, certs, log);
  const defs = await store.listDefinitions({ filter: null, limit: 10_000, offset: 0, sortColumn: 'id', ascending: true });
  const def = defs.find((d) => d.displayName === DEMO_DEFINITION && d.workflowType === 'Enrollment');
  const template = (await store.certificates.listTemplates()).find((t) => t.commonName === DEMO_TEMPLATE);
  if (!def || !template) {
    log(`Demo not reseeded: this store has definitions but no "${DEMO_DEFINITION}" definition with its "${DEMO_TEMPLATE}" template (the demo loads only on an empty store).`);
    return;
  }
  const { created } = await ensureUsersAndRoles(store);
  const tag = `-reseeded-${new Date().toISOString().slice(0, 16).replace(/\D/g, '')}`;
  await enrollRequests(store, certs, template, tag);
  log(
    `Demo reseeded: ${REQUESTS.length} new requests by CORP\\carol wait on "${DEMO_DEFINITION}" (${def.id}) for CORP\\alice and CORP\\bob` +
      (created.length ? `; created ${created.join(', ')}.` : '; demo users and roles were already there.'),
  );
}

async function hasDefinitions(store: Store): Promise<boolean> {
  return (await store.listDefinitions({ filter: null, limit: 1, offset: 0, sortColumn: 'id', ascending: true })).length > 0;
}

const REQUESTER_PERMISSIONS = [P.instancesStart, P.instancesReadMine, P.enrollCsr, P.enrollPfx];

/** The demo users and their two roles; existing ones are kept, missing members added. */
async function ensureUsersAndRoles(store: Store): Promise<{ approvers: Role; created: string[] }> {
  const created: string[] = [];
  const ids: Record<string, number> = {};
  for (const u of DEMO_USERS) {
    let identity = await store.findIdentityByName(u.accountName);
    if (!identity) {
      identity = await store.createIdentity({
        accountName: u.accountName,
        identityType: 'User',
        sid: null,
        email: u.email,
        passwordHash: await hashPassword(u.password),
        createdAt: new Date().toISOString(),
      });
      created.push(`user ${u.accountName}`);
    }
    ids[u.accountName] = identity.id;
  }
  const roles = await store.listRoles({ filter: null, limit: 10_000, offset: 0, sortColumn: 'id', ascending: true });
  const role = async (name: string, description: string, permissions: string[], members: number[]): Promise<Role> => {
    const existing = roles.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!existing) {
      created.push(`role ${name}`);
      return store.createRole({
        name,
        description,
        email: null,
        enabled: true,
        private: false,
        immutable: false,
        permissions,
        permissionSetId: GLOBAL_PERMISSION_SET_ID,
        identityIds: members,
        claims: [],
      });
    }
    const missing = members.filter((m) => !existing.identityIds.includes(m));
    if (missing.length === 0) return existing;
    created.push(`membership of ${name}`);
    return (await store.setRoleIdentities(existing.id, [...existing.identityIds, ...missing])) ?? existing;
  };
  const approvers = await role(
    'PKI Approvers',
    'Approve certificate requests',
    [P.instancesReadAll, P.instancesReadPending, P.definitionsRead, P.certificatesRead],
    [ids['CORP\\alice']!, ids['CORP\\bob']!],
  );
  await role('Requesters', 'Request certificates', REQUESTER_PERMISSIONS, [ids['CORP\\carol']!]);
  return { approvers, created };
}

/**
 * Three CSR enrollments by carol, through the enrollment service as POST /Enrollment/CSR runs
 * them. The template accepts RSA 2048 while they are filed, then asks for DEMO_MIN_RSA_BITS
 * again: vpn-gw01's request was valid when filed and is flagged now (a policy raised since).
 */
async function enrollRequests(store: Store, certs: CertificateService, template: Template, tag: string): Promise<void> {
  const carol = await store.findIdentityByName('CORP\\carol');
  const principal: Principal = { identity: carol!, roleIds: [], permissions: REQUESTER_PERMISSIONS };
  const csrs = await Promise.all(REQUESTS.map((r) => demoCsr(`${r.host}${tag}.corp.example`, r.key)));
  await store.certificates.updateTemplate({ ...template, policy: { ...template.policy, minRsaBits: 2048 } });
  try {
    for (const csr of csrs)
      await certs.enrollment.enroll(
        {
          kind: 'CSR',
          csr,
          privateKey: null,
          subject: null,
          keyType: null,
          keyLength: null,
          curve: null,
          template: template.commonName,
          enrollmentPatternId: null,
          certificateAuthority: null,
          sans: {},
          metadata: { Owner: 'web team' },
          additionalFields: {},
          includeChain: false,
          deliverKeyNow: false,
        },
        principal,
      );
  } finally {
    await store.certificates.updateTemplate({ ...template, policy: { ...template.policy, minRsaBits: DEMO_MIN_RSA_BITS } });
  }
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
