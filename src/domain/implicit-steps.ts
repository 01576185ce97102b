import type { StepRegistry } from './step-registry.ts';
import type { DefinitionVersion, StepDef } from './types.ts';

/**
 * Steps a workflow type adds at the end of a definition that lacks them: for each step type
 * marked implicitAtEnd for the instance's workflow type and absent from the version, one step
 * (Keyfactor adds an EnrollStep at the end of an Enrollment workflow that has none). The engine
 * enters it when the instance would complete; a step that answers `continue` at once leaves no
 * trace, so instances with nothing to do there complete exactly as before. Pure.
 */
export function implicitSteps(version: DefinitionVersion, workflowType: string, registry: StepRegistry): StepDef[] {
  return registry
    .all()
    .filter((t) => t.implicitAtEnd && t.workflowTypes !== 'all' && t.workflowTypes.some((w) => w.toLowerCase() === workflowType.toLowerCase()))
    .filter((t) => !version.steps.some((s) => s.extensionName === t.extensionName))
    .map((t) => implicitStep(t.extensionName, t.displayName));
}

const SUFFIX = '_Implicit';

/** The derived definition of an implicit step: no configuration, no signals, no outputs. */
export function implicitStep(extensionName: string, displayName = extensionName): StepDef {
  return {
    id: '00000000-0000-4000-8000-00000000e001',
    extensionName,
    uniqueName: `${extensionName}${SUFFIX}`,
    displayName,
    enabled: true,
    config: {},
    signals: [],
    conditions: [],
    outputs: {},
  };
}

/** An implicit step by its UniqueName (the engine looks steps up by name); undefined for others. */
export const implicitStepNamed = (uniqueName: string): StepDef | undefined => (uniqueName.endsWith(SUFFIX) ? implicitStep(uniqueName.slice(0, -SUFFIX.length)) : undefined);
