import { emailStep } from './email/email.ts';
import { oauthRestRequestStep } from './rest/oauth-rest.ts';
import { powerShellStep } from './powershell/powershell.ts';
import { restRequestStep } from './rest/rest.ts';
import { scriptStep } from './script/script.ts';
import { enrollStep } from './enroll/enroll-step.ts';
import { revokeStep } from './revoke/revoke-step.ts';
import { expirationRenewalStep } from './expiration-renewal/expiration-renewal.ts';
import { noopStep } from './noop/noop.ts';
import { StepRegistry } from '../domain/step-registry.ts';
import type { RunEnvironment, StepType } from '../domain/step-type.ts';
import { requireApprovalStep } from './require-approval/require-approval.ts';
import { updateMetadataStep } from './update-metadata/update-metadata.ts';

export const builtInStepTypes: StepType[] = [
  noopStep,
  requireApprovalStep,
  emailStep,
  restRequestStep,
  oauthRestRequestStep,
  powerShellStep,
  scriptStep,
  updateMetadataStep,
  expirationRenewalStep,
  enrollStep,
  revokeStep,
];

export const defaultRegistry = (env?: RunEnvironment): StepRegistry => new StepRegistry(builtInStepTypes, env);
