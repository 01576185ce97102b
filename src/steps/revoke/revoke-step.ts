import { trustedRevocationOf } from '../../certificates/revocation.ts';
import { CountersignError } from '../../domain/errors.ts';
import { StepFailure, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import type { Instance } from '../../domain/types.ts';

/** What the step needs from the server: carrying out the revocation an instance was started for. */
export interface InstanceRevoker {
  revokeForInstance(instance: Instance): Promise<RunResult>;
}

/** The key under which the server puts the revocation service into the runners' environment. */
export const REVOCATION_ENV = 'revocation';

/**
 * Keyfactor's RevokeStep: where a Revocation workflow revokes (or holds, or releases) its
 * certificate. The same rules as the EnrollStep: Revocation workflows only, at most one, no
 * conditions, no parameters, added at the end of a definition that has none (implicitAtEnd).
 * Revoking is idempotent per instance, so the runner's retries revoke once.
 */
export const revokeStep: StepType = {
  extensionName: 'RevokeStep',
  displayName: 'Revoke',
  description: 'Revokes the certificate of the revocation request. Added at the end of a Revocation workflow that has none.',
  outputs: ['continue'],
  workflowTypes: ['Revocation'],
  parameters: {},
  signals: {},
  maxPerDefinition: 1,
  conditionsAllowed: false,
  implicitAtEnd: true,
  // Instances started by hand (POST /Workflow/Instances) carry no revocation request: nothing to revoke.
  enter: (ctx) =>
    trustedRevocationOf(ctx.instance.trustedData) === null ? { kind: 'continue', message: 'No revocation request belongs to this instance; nothing to revoke.' } : { kind: 'run' },
  async run(input: RunInput): Promise<RunResult> {
    const revoker = input.env[REVOCATION_ENV] as InstanceRevoker | undefined;
    if (!revoker) throw new StepFailure('Certificate revocation is not configured on this server.', false);
    try {
      return await revoker.revokeForInstance(input.instance);
    } catch (e) {
      if (e instanceof CountersignError && e.errorName === 'CaUnavailable') throw new StepFailure(e.message, true);
      if (e instanceof CountersignError) throw new StepFailure(e.message, false);
      throw e;
    }
  },
};
