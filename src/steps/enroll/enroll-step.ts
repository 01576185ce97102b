import { requestIdOf } from '../../certificates/request.ts';
import { CountersignError } from '../../domain/errors.ts';
import { StepFailure, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import type { Instance } from '../../domain/types.ts';

/** What the step needs from the server: issuing for the request an instance was started for (the enrollment service). */
export interface InstanceIssuer {
  issueForInstance(instance: Instance): Promise<RunResult>;
}

/** The key under which the server puts the enrollment service into the runners' environment. */
export const ENROLLMENT_ENV = 'enrollment';

/**
 * Keyfactor's EnrollStep: where an Enrollment workflow issues its certificate. At most one per
 * definition, no conditions, no parameters; a definition without one gets it at its end
 * (implicitAtEnd). Issuing is idempotent per request (Enrollment.issueForRequest), so the
 * runner's at-least-once retries still issue exactly one certificate.
 */
export const enrollStep: StepType = {
  extensionName: 'EnrollStep',
  displayName: 'Enroll',
  description: 'Issues the requested certificate through the certificate authority. Added at the end of an Enrollment workflow that has none.',
  outputs: ['continue'],
  workflowTypes: ['Enrollment'],
  parameters: {},
  signals: {},
  maxPerDefinition: 1,
  conditionsAllowed: false,
  implicitAtEnd: true,
  // Instances started by hand (POST /Workflow/Instances) carry no request: nothing to issue.
  enter: (ctx) =>
    requestIdOf(ctx.instance.trustedData) === null ? { kind: 'continue', message: 'No certificate request belongs to this instance; nothing to enroll.' } : { kind: 'run' },
  async run(input: RunInput): Promise<RunResult> {
    const enrollment = input.env[ENROLLMENT_ENV] as InstanceIssuer | undefined;
    if (!enrollment) throw new StepFailure('Certificate enrollment is not configured on this server.', false);
    try {
      return await enrollment.issueForInstance(input.instance);
    } catch (e) {
      if (e instanceof CountersignError && e.errorName === 'CaUnavailable') throw new StepFailure(e.message, true);
      if (e instanceof CountersignError && e.errorName === 'EnrollmentRefused') throw new StepFailure(e.message, false);
      throw e;
    }
  },
};
