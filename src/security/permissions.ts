import { fail } from '../domain/errors.ts';

/**
 * The permissions Countersign enforces, in both Keyfactor spellings: version-1 "Area:Permission"
 * and version-2 access-control strings. They mean the same rights (security-notes section 5).
 * Canonical form, stored and checked, is the access-control string. A shorter string grants
 * everything below it: "/" grants all, "/workflows/" all workflow rights.
 */
export const PERMISSIONS = [
  { legacy: 'WorkflowDefinitions:Read', path: '/workflows/definitions/read/', description: 'List and read workflow definitions, step types and workflow types.' },
  { legacy: 'WorkflowDefinitions:Modify', path: '/workflows/definitions/modify/', description: 'Create, edit, publish, enable, disable and delete workflow definitions.' },
  { legacy: 'WorkflowInstances:ReadAll', path: '/workflows/instances/read/', description: 'Read every workflow instance.' },
  { legacy: 'WorkflowInstances:ReadMy', path: '/workflows/instances/read/mine/', description: 'Read the instances the caller started.' },
  { legacy: 'WorkflowInstances:ReadAssignedToMe', path: '/workflows/instances/read/pending/', description: 'Read the suspended instances waiting on the caller.' },
  { legacy: 'WorkflowInstances:Manage', path: '/workflows/instances/manage/', description: 'Stop, restart and delete instances.' },
  { legacy: 'WorkflowInstances:Start', path: '/workflows/instances/start/', description: 'Start instances (Countersign extension).' },
  { legacy: 'Security:Read', path: '/security/read/', description: 'Read identities, roles and permissions.' },
  { legacy: 'Security:Modify', path: '/security/modify/', description: 'Create, change and delete identities and roles.' },
  {
    legacy: 'CertificateEnrollment:EnrollCSR',
    path: '/certificates/enrollment/csr/',
    description: 'Enroll for certificates with a CSR (and read the certificates one requested).',
  },
  {
    legacy: 'CertificateEnrollment:EnrollPFX',
    path: '/certificates/enrollment/pfx/',
    description: 'Enroll for certificates with a server-generated key (and recover the keys one requested).',
  },
  { legacy: 'Certificates:Read', path: '/certificates/collections/read/', description: 'Read and download every certificate in the inventory.' },
  { legacy: 'Certificates:EditMetadata', path: '/certificates/collections/metadata/modify/', description: 'Change certificate metadata.' },
  {
    legacy: 'Certificates:RecoverPrivateKey',
    path: '/certificates/collections/private_key/read/',
    description: 'Recover the private key of any certificate whose key is retained.',
  },
  { legacy: 'Certificates:Delete', path: '/certificates/collections/delete/', description: 'Delete certificates from the inventory (and their stored keys).' },
  { legacy: 'CertificateAuthorities:Read', path: '/certificate_authorities/read/', description: 'Read the certificate authorities.' },
  { legacy: 'CertificateAuthorities:Modify', path: '/certificate_authorities/modify/', description: 'Import certificate authorities (Countersign extension).' },
  { legacy: 'CertificateTemplates:Read', path: '/certificate_templates/read/', description: 'Read certificate templates and enrollment patterns.' },
  { legacy: 'CertificateTemplates:Modify', path: '/certificate_templates/modify/', description: 'Create, change and delete certificate templates.' },
  { legacy: 'CertificateMetadataTypes:Read', path: '/metadata/types/read/', description: 'Read certificate metadata fields.' },
  { legacy: 'CertificateMetadataTypes:Modify', path: '/metadata/types/modify/', description: 'Create, change and delete certificate metadata fields.' },
  { legacy: 'AuditLog:Read', path: '/auditing/read/', description: 'Read, validate and download the audit log.' },
] as const;

/** Grouping strings accepted in version-2 roles: each grants everything below it. */
const GROUPS = [
  '/',
  '/workflows/',
  '/workflows/definitions/',
  '/workflows/instances/',
  '/security/',
  '/certificates/',
  '/certificates/enrollment/',
  '/certificates/collections/',
  '/certificate_authorities/',
  '/certificate_templates/',
  '/metadata/',
  '/metadata/types/',
  '/auditing/',
];

export const P = {
  definitionsRead: '/workflows/definitions/read/',
  definitionsModify: '/workflows/definitions/modify/',
  instancesReadAll: '/workflows/instances/read/',
  instancesReadMine: '/workflows/instances/read/mine/',
  instancesReadPending: '/workflows/instances/read/pending/',
  instancesManage: '/workflows/instances/manage/',
  instancesStart: '/workflows/instances/start/',
  securityRead: '/security/read/',
  securityModify: '/security/modify/',
  enrollCsr: '/certificates/enrollment/csr/',
  enrollPfx: '/certificates/enrollment/pfx/',
  certificatesRead: '/certificates/collections/read/',
  certificatesMetadata: '/certificates/collections/metadata/modify/',
  certificatesRecover: '/certificates/collections/private_key/read/',
  certificatesDelete: '/certificates/collections/delete/',
  casRead: '/certificate_authorities/read/',
  casModify: '/certificate_authorities/modify/',
  templatesRead: '/certificate_templates/read/',
  templatesModify: '/certificate_templates/modify/',
  metadataTypesRead: '/metadata/types/read/',
  metadataTypesModify: '/metadata/types/modify/',
  auditRead: '/auditing/read/',
} as const;

export const ALL_PERMISSIONS = ['/'];

/** Whether the held permissions grant the needed one (prefix inheritance). */
export function grants(held: readonly string[], needed: string): boolean {
  return held.some((h) => needed.startsWith(h));
}

const normalPath = (s: string): string => {
  let p = s.trim().toLowerCase();
  if (!p.startsWith('/')) p = `/${p}`;
  if (!p.endsWith('/')) p += '/';
  return p;
};

/** Accepts either spelling and returns the canonical string; unknown permissions are a 400. */
export function toCanonical(permission: string): string {
  const t = permission.trim();
  if (t.includes(':')) {
    const [area, perm] = t.split(':').map((x) => x.trim().toLowerCase());
    const hit = PERMISSIONS.find((p) => p.legacy.toLowerCase() === `${area}:${perm}`);
    if (hit) return hit.path;
    return fail('RoleInvalid', `Unknown permission '${permission}'. Known: ${PERMISSIONS.map((p) => p.legacy).join(', ')}.`);
  }
  const path = normalPath(t);
  if (GROUPS.includes(path) || PERMISSIONS.some((p) => p.path === path)) return path;
  return fail('RoleInvalid', `Unknown permission '${permission}'. Known: ${[...GROUPS, ...PERMISSIONS.map((p) => p.path)].join(', ')}.`);
}

/** Version-1 spelling(s) of a canonical permission; a group expands to every permission under it. */
export function toLegacy(canonical: string): string[] {
  const leaf = PERMISSIONS.find((p) => p.path === canonical);
  // A leaf maps to itself only: ReadAll's string is a prefix of ReadMy's, but they are distinct names.
  if (leaf) return [leaf.legacy];
  return PERMISSIONS.filter((p) => p.path.startsWith(canonical)).map((p) => p.legacy);
}
