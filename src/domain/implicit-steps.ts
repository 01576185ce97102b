import type { StepRegistry } from '../steps/index.ts';
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
    .map((t) => ({
      id: IMPLICIT_STEP_ID,
      extensionName: t.extensionName,
      uniqueName: `${t.extensionName}_Implicit`,
      displayName: t.displayName,
      enabled: true,
      config: {},
      signals: [],
      conditions: [],
      outputs: {},
    }));
}

export const IMPLICIT_STEP_ID = '00000000-0000-4000-8000-00000000e001';
