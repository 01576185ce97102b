import { requestIdOf } from '../../certificates/request.ts';
import type { RunResult } from '../../domain/step-type.ts';
import type { Instance } from '../../domain/types.ts';
import { serverPortStep } from '../support/server-port-step.ts';

/** What the step needs from the server: issuing for the request an instance was started for (the enrollment service). */
export interface InstanceIssuer {
  issueForInstance(instance: Instance): Promise<RunResult>;
}

/** The key under which the server puts the enrollment service into the runners' environment. */
export const ENROLLMENT_ENV = 'enrollment';

/**
 * Keyfactor's EnrollStep: where an Enrollment workflow issues its certificate. Issuing is
 * idempotent per request (Enrollment.issueForRequest), so the runner's at-least-once retries
 * still issue exactly one certificate. A request the template refuses fails the instance.
 */
export const enrollStep = serverPortStep<InstanceIssuer>({
  extensionName: 'EnrollStep',
  displayName: 'Enroll',
  description: 'Issues the requested certificate through the certificate authority. Added at the end of an Enrollment workflow that has none.',
  workflowType: 'Enrollment',
  envKey: ENROLLMENT_ENV,
  notConfigured: 'Certificate enrollment is not configured on this server.',
  hasWork: (instance) => requestIdOf(instance.trustedData) !== null,
  nothingToDo: 'No certificate request belongs to this instance; nothing to enroll.',
  call: (issuer, instance) => issuer.issueForInstance(instance),
  isRefusal: (e) => e.errorName === 'EnrollmentRefused',
});
