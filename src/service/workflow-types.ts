import { fail } from '../domain/errors.ts';
import type { Definition, DefinitionKey } from '../domain/types.ts';

/** The workflow types Countersign knows, with what their Key refers to. */
export const WORKFLOW_TYPES = [
  { name: 'Enrollment', keyType: 'Template', context: ['Subject', 'CSR:Raw', 'CA', 'Template', 'requester', 'Additional Attributes'] },
  { name: 'Revocation', keyType: 'Template', context: ['certid', 'cn', 'dn', 'serial', 'thumbprint', 'code', 'cmnt', 'CA', 'requester'] },
  { name: 'CertificateEnteredCollection', keyType: 'Collection', context: ['certid', 'cn', 'thumbprint'] },
  { name: 'CertificateLeftCollection', keyType: 'Collection', context: ['certid', 'cn', 'thumbprint'] },
  { name: 'Expiration', keyType: 'Alert', context: ['certid', 'cn', 'expdate', 'issuancedate', 'thumbprint', 'alertId', 'ownerroleemail'] },
] as const;

export function canonicalWorkflowType(name: string): string {
  const t = WORKFLOW_TYPES.find((w) => w.name.toLowerCase() === name.trim().toLowerCase());
  if (!t) fail('ValidationFailed', `WorkflowType '${name}' is not known; use one of ${WORKFLOW_TYPES.map((w) => w.name).join(', ')}.`);
  return t!.name;
}

/** The key of a definition of `workflowType` whose KeyDisplayName is `given` (case-insensitive), if any. */
export function keyByDisplayName(definitions: Definition[], workflowType: string, given: string): DefinitionKey | null {
  const wanted = given.trim().toLowerCase();
  for (const d of definitions) {
    if (d.workflowType !== workflowType) continue;
    const k = d.keys.find((x) => x.displayName !== null && x.displayName.trim().toLowerCase() === wanted && x.value !== given);
    if (k) return k;
  }
  return null;
}
