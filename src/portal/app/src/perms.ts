/*
 * What the signed-in identity may do, from GET /Security/My/Permissions (canonical
 * access-control strings). A shorter string grants everything below it ("/" grants all), as the
 * server checks it. The portal hides what is not granted; the API refuses it anyway.
 *
 * `P` mirrors src/security/permissions.ts on purpose: the browser bundle never imports server
 * code. A portal test compares the two lists, so they cannot drift apart.
 */

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
  certificatesRevoke: '/certificates/collections/revoke/',
  casRead: '/certificate_authorities/read/',
  casModify: '/certificate_authorities/modify/',
  templatesRead: '/certificate_templates/read/',
  templatesModify: '/certificate_templates/modify/',
  metadataTypesRead: '/metadata/types/read/',
  metadataTypesModify: '/metadata/types/modify/',
  auditRead: '/auditing/read/',
  collectionsModify: '/certificates/collections/modify/',
  alertsRead: '/monitoring/alerts/read/',
  alertsModify: '/monitoring/alerts/modify/',
} as const;

/** Plain-language names of the permissions, for the Security pages. */
export const PERMISSION_LABELS: Record<string, string> = {
  '/': 'Everything',
  '/workflows/': 'All workflow permissions',
  '/workflows/definitions/': 'All definition permissions',
  '/workflows/instances/': 'All instance permissions',
  '/security/': 'All security permissions',
  [P.definitionsRead]: 'Read workflow definitions',
  [P.definitionsModify]: 'Create, edit, publish and delete definitions',
  [P.instancesReadAll]: 'Read every instance',
  [P.instancesReadMine]: 'Read the instances I started',
  [P.instancesReadPending]: 'Read the instances waiting for me',
  [P.instancesManage]: 'Stop, restart and delete instances',
  [P.instancesStart]: 'Start instances',
  [P.securityRead]: 'Read identities and roles',
  [P.securityModify]: 'Change identities and roles',
  '/certificates/': 'All certificate permissions',
  '/certificates/enrollment/': 'Enroll for certificates (CSR and PFX)',
  '/certificates/collections/': 'All certificate inventory permissions',
  '/certificate_authorities/': 'All certificate authority permissions',
  '/certificate_templates/': 'All template permissions',
  '/metadata/': 'All metadata permissions',
  '/metadata/types/': 'All metadata field permissions',
  [P.enrollCsr]: 'Enroll with a CSR',
  [P.enrollPfx]: 'Enroll with a server-generated key (PFX)',
  [P.certificatesRead]: 'Read and download every certificate',
  [P.certificatesMetadata]: 'Change certificate metadata',
  [P.certificatesRecover]: 'Recover retained private keys',
  [P.certificatesDelete]: 'Delete certificates',
  [P.certificatesRevoke]: 'Revoke certificates, hold and release them',
  [P.casRead]: 'Read certificate authorities',
  [P.casModify]: 'Import certificate authorities',
  [P.templatesRead]: 'Read templates',
  [P.templatesModify]: 'Create, edit and delete templates',
  [P.metadataTypesRead]: 'Read metadata fields',
  [P.metadataTypesModify]: 'Create, edit and delete metadata fields',
  '/auditing/': 'All audit permissions',
  [P.auditRead]: 'Read, validate and download the audit log',
  '/monitoring/': 'All monitoring permissions',
  '/monitoring/alerts/': 'All expiration alert permissions',
  [P.collectionsModify]: 'Create and change certificate collections',
  [P.alertsRead]: 'Read and test expiration alerts',
  [P.alertsModify]: 'Create, change and delete expiration alerts',
};

export const grants = (held: readonly string[], needed: string): boolean => held.some((h) => needed.startsWith(h));

export interface Abilities {
  /** Assigned to Me (the API allows ReadAll or ReadAssignedToMe). */
  inbox: boolean;
  /** My Workflows (ReadAll or ReadMy). */
  mine: boolean;
  /** Instance search. */
  instances: boolean;
  /** Stop and delete. */
  manage: boolean;
  /** Restart needs Manage and ReadAll. */
  restart: boolean;
  definitionsRead: boolean;
  definitionsModify: boolean;
  securityRead: boolean;
  securityModify: boolean;
  /** Enroll with a pasted CSR. */
  enrollCsr: boolean;
  /** Enroll with a key the server generates (PKCS#12). */
  enrollPfx: boolean;
  /** The certificate inventory: every certificate (Read) or one's own (an enrollment permission). */
  certificates: boolean;
  /** Reads every certificate, not only one's own. */
  certificatesAll: boolean;
  /** The ACME page: profiles (CA read). */
  acme: boolean;
  /** EAB keys (CA modify). */
  casModify: boolean;
}

export function abilities(held: readonly string[]): Abilities {
  const g = (p: string) => grants(held, p);
  return {
    inbox: g(P.instancesReadAll) || g(P.instancesReadPending),
    mine: g(P.instancesReadAll) || g(P.instancesReadMine),
    instances: g(P.instancesReadAll),
    manage: g(P.instancesManage),
    restart: g(P.instancesManage) && g(P.instancesReadAll),
    definitionsRead: g(P.definitionsRead),
    definitionsModify: g(P.definitionsModify),
    securityRead: g(P.securityRead),
    securityModify: g(P.securityModify),
    enrollCsr: g(P.enrollCsr),
    enrollPfx: g(P.enrollPfx),
    certificates: g(P.certificatesRead) || g(P.enrollCsr) || g(P.enrollPfx),
    certificatesAll: g(P.certificatesRead),
    acme: g(P.casRead) || g(P.casModify),
    casModify: g(P.casModify),
  };
}

/** Version-1 "Area:Permission" spellings, as role lists show them, in plain words. */
export const LEGACY_LABELS: Record<string, string> = {
  'WorkflowDefinitions:Read': PERMISSION_LABELS['/workflows/definitions/read/']!,
  'WorkflowDefinitions:Modify': PERMISSION_LABELS['/workflows/definitions/modify/']!,
  'WorkflowInstances:ReadAll': PERMISSION_LABELS['/workflows/instances/read/']!,
  'WorkflowInstances:ReadMy': PERMISSION_LABELS['/workflows/instances/read/mine/']!,
  'WorkflowInstances:ReadAssignedToMe': PERMISSION_LABELS['/workflows/instances/read/pending/']!,
  'WorkflowInstances:Manage': PERMISSION_LABELS['/workflows/instances/manage/']!,
  'WorkflowInstances:Start': PERMISSION_LABELS['/workflows/instances/start/']!,
  'Security:Read': PERMISSION_LABELS['/security/read/']!,
  'Security:Modify': PERMISSION_LABELS['/security/modify/']!,
};

export const permissionLabel = (p: string) => PERMISSION_LABELS[p] ?? LEGACY_LABELS[p] ?? p;
