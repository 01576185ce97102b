import type { Instance, JsonObject, StepDef } from '../../src/domain/types.ts';
import type { RunEnvironment, RunInput } from '../../src/domain/step-type.ts';

/** A RunInput for calling a step type's run() directly. */
export function runInput(config: JsonObject, env: RunEnvironment, over: Partial<RunInput> = {}): RunInput {
  const step: StepDef = { id: 's1', extensionName: 'X', uniqueName: 'Step1', displayName: 'Step 1', enabled: true, config, signals: [], conditions: [], outputs: {} };
  return {
    step,
    config,
    instance: { id: '00000000-0000-4000-8000-000000000001' } as Instance,
    idempotencyKey: '00000000-0000-4000-8000-000000000001/Step1',
    attempt: 1,
    signal: AbortSignal.timeout(20_000),
    env,
    ...over,
  };
}

/** Runs and returns the StepFailure (or other error) it throws; fails the test when it does not throw. */
export async function failureOf(p: Promise<unknown>): Promise<{ message: string; retryable: boolean }> {
  try {
    await p;
  } catch (err) {
    return { message: (err as Error).message, retryable: Boolean((err as { retryable?: boolean }).retryable) };
  }
  throw new Error('expected the step to fail');
}
