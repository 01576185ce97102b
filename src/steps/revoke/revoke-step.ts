import { trustedRevocationOf } from '../../certificates/revocation.ts';
import type { RunResult } from '../../domain/step-type.ts';
import type { Instance } from '../../domain/types.ts';
import { serverPortStep } from '../support/server-port-step.ts';

/** What the step needs from the server: carrying out the revocation an instance was started for. */
export interface InstanceRevoker {
  revokeForInstance(instance: Instance): Promise<RunResult>;
}

/** The key under which the server puts the revocation service into the runners' environment. */
export const REVOCATION_ENV = 'revocation';

/**
 * Keyfactor's RevokeStep: where a Revocation workflow revokes (or holds, or releases) its
 * certificate. Revoking is idempotent per instance, so the runner's retries revoke once. Any
 * refusal of the revocation service fails the instance.
 */
export const revokeStep = serverPortStep<InstanceRevoker>({
  extensionName: 'RevokeStep',
  displayName: 'Revoke',
  description: 'Revokes the certificate of the revocation request. Added at the end of a Revocation workflow that has none.',
  workflowType: 'Revocation',
  envKey: REVOCATION_ENV,
  notConfigured: 'Certificate revocation is not configured on this server.',
  hasWork: (instance) => trustedRevocationOf(instance.trustedData) !== null,
  nothingToDo: 'No revocation request belongs to this instance; nothing to revoke.',
  call: (revoker, instance) => revoker.revokeForInstance(instance),
  isRefusal: () => true,
});
