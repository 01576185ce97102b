import { CountersignError } from '../../domain/errors.ts';
import { StepFailure, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import type { Instance } from '../../domain/types.ts';

export interface ServerPortStepSpec<Port> {
  extensionName: string;
  displayName: string;
  description: string;
  /** The one workflow type the step belongs to. */
  workflowType: string;
  /** The key under which the server puts the port into the runners' environment. */
  envKey: string;
  /** The failure when the server put no port there. */
  notConfigured: string;
  /**
   * Whether the instance carries what the port acts on. Instances started by hand
   * (POST /Workflow/Instances) may not: the step then continues with `nothingToDo`.
   */
  hasWork(instance: Instance): boolean;
  nothingToDo: string;
  /** Does the work; idempotent per instance, so the runner's at-least-once retries do it once. */
  call(port: Port, instance: Instance): Promise<RunResult>;
  /** Which of the port's CountersignErrors fail the instance (CaUnavailable is always retried; the rest are rethrown). */
  isRefusal(e: CountersignError): boolean;
}

/**
 * A step that hands its instance to a server port (a service the shell provides in the run
 * environment): no parameters, no signals, no conditions, at most one per definition, and added
 * at the end of a definition of its workflow type that has none (implicitAtEnd).
 */
export function serverPortStep<Port>(spec: ServerPortStepSpec<Port>): StepType {
  return {
    extensionName: spec.extensionName,
    displayName: spec.displayName,
    description: spec.description,
    outputs: ['continue'],
    workflowTypes: [spec.workflowType],
    parameters: {},
    signals: {},
    maxPerDefinition: 1,
    conditionsAllowed: false,
    implicitAtEnd: true,
    enter: (ctx) => (spec.hasWork(ctx.instance) ? { kind: 'run' } : { kind: 'continue', message: spec.nothingToDo }),
    async run(input: RunInput): Promise<RunResult> {
      const port = input.env[spec.envKey] as Port | undefined;
      if (!port) throw new StepFailure(spec.notConfigured, false);
      try {
        return await spec.call(port, input.instance);
      } catch (e) {
        if (e instanceof CountersignError && e.errorName === 'CaUnavailable') throw new StepFailure(e.message, true);
        if (e instanceof CountersignError && spec.isRefusal(e)) throw new StepFailure(e.message, false);
        throw e;
      }
    },
  };
}
