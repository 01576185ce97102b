import { emailStep, oauthRestRequestStep, powerShellStep, restRequestStep, scriptStep } from './automation.ts';
import { enrollStep } from './enroll/enroll-step.ts';
import { expirationRenewalStep } from './expiration-renewal.ts';
import { noopStep } from './noop.ts';
import type { RunEnvironment, StepType } from './plugin.ts';
import { requireApprovalStep } from './require-approval.ts';
import { updateMetadataStep } from './update-metadata.ts';

export type { StepType } from './plugin.ts';

/** Step types by ExtensionName. Lookups are case-sensitive, as ExtensionNames are on the wire. */
export class StepRegistry {
  private readonly types = new Map<string, StepType>();
  constructor(
    types: StepType[],
    /** The server's settings, for validation that depends on them (the REST egress policy). */
    readonly env?: RunEnvironment,
  ) {
    for (const t of types) this.types.set(t.extensionName, t);
  }
  get(name: string): StepType | undefined {
    return this.types.get(name);
  }
  all(): StepType[] {
    return [...this.types.values()];
  }
}

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
];

export const defaultRegistry = (env?: RunEnvironment): StepRegistry => new StepRegistry(builtInStepTypes, env);
