import { emailStep, oauthRestRequestStep, powerShellStep, restRequestStep, scriptStep } from './automation.ts';
import { expirationRenewalStep } from './expiration-renewal.ts';
import { noopStep } from './noop.ts';
import { StepRegistry } from '../domain/step-registry.ts';
import type { RunEnvironment, StepType } from '../domain/step-type.ts';
import { requireApprovalStep } from './require-approval.ts';
import { updateMetadataStep } from './update-metadata.ts';

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
];

export const defaultRegistry = (env?: RunEnvironment): StepRegistry => new StepRegistry(builtInStepTypes, env);
