import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { JsonObject } from '../../domain/types.ts';
import { param, StepFailure, type RunResult, type StepType } from '../../domain/step-type.ts';
import { stepSettings, type ScriptLimits } from '../support/settings.ts';
import { excerpt, isJsonObject } from '../support/support.ts';

/**
 * Script (ours): JavaScript with the PowerShell step's contract. ScriptContent is the body of an
 * async function receiving `params` (ScriptParameters after tokens) and returning an object
 * whose keys become variables. It runs in QuickJS compiled to WebAssembly, in a worker thread
 * (src/steps/script-worker.mjs): the engine holds only ECMAScript built-ins and the values passed
 * in, so no host API exists for the script to reach (docs/security/sandbox.md).
 */
export const scriptStep: StepType = {
  extensionName: 'Script',
  displayName: 'Run JavaScript',
  description: 'Runs JavaScript in a WebAssembly sandbox with time, memory and output limits; the object it returns becomes variables.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ScriptContent: param('Script content', 'string', { required: true, tooltip: 'The body of an async function (params) => ({ Name: value }).' }),
    ScriptParameters: param('Script parameters', 'stringMap', { tokens: true, default: {}, tooltip: 'Name to value; a value that is one token keeps its JSON type.' }),
  },
  validate: (config) => {
    if (typeof config.ScriptContent !== 'string') return [];
    const problem = compileProblem(config.ScriptContent);
    return problem ? [`ScriptContent: does not compile: ${problem}`] : [];
  },
  enter: () => ({ kind: 'run' }),
  run: (input) => {
    const params = isJsonObject(input.config.ScriptParameters) ? input.config.ScriptParameters : {};
    return runScript(String(input.config.ScriptContent ?? ''), params, stepSettings(input.env).script, input.signal);
  },
};

/**
 * QuickJS's own stack limit. The worker threads get a native stack (WORKER_STACK_MB) large enough
 * that this limit is reached first: deep recursion and deep nesting fail with "stack overflow".
 */
export const SCRIPT_STACK_BYTES = 256 * 1024;
const WORKER_STACK_MB = 16;

/** Time for the worker to start and load the WebAssembly module before the script's deadline. */
const WORKER_START_GRACE_MS = 3_000;

/** How long PUT Steps waits for the syntax check (the first one includes loading the module). */
const VALIDATE_WAIT_MS = 10_000;

const WORKER_FILE = new URL('./script-worker.mjs', import.meta.url);

let validator: { worker: Worker; port: MessagePort } | null = null;

/** The long-lived compile-only worker, started on first use and again after it ends. */
function validatorWorker(): { worker: Worker; port: MessagePort } {
  if (validator) return validator;
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_FILE, {
    workerData: { mode: 'validate', port: port2, maxStackBytes: SCRIPT_STACK_BYTES },
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: WORKER_STACK_MB },
    env: {},
  });
  // It must not keep the process alive, nor take it down.
  worker.unref();
  port1.unref();
  const current = { worker, port: port1 };
  const forget = (): void => {
    if (validator === current) validator = null;
  };
  worker.on('error', forget);
  worker.on('exit', forget);
  validator = current;
  return current;
}

/**
 * Compiles the body in QuickJS, the parser that will run it, without calling it: nothing of the
 * script executes. validate() is synchronous, so this blocks on the answer (a compile takes
 * milliseconds). Returns the syntax error, or null.
 */
export function compileProblem(script: string): string | null {
  const v = validatorWorker();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  v.port.postMessage({ script, flag });
  const waited = Atomics.wait(flag, 0, 0, VALIDATE_WAIT_MS);
  const answer = receiveMessageOnPort(v.port)?.message as { problem: string | null } | undefined;
  if (waited === 'timed-out' || !answer) {
    // A stuck or dead checker is replaced; the definition is refused rather than saved unchecked.
    validator = null;
    void v.worker.terminate();
    return 'the syntax check did not answer in time; try again';
  }
  return answer.problem;
}

type WorkerAnswer =
  | { ok: true; variablesJson: string; log: string }
  | { ok: false; kind: 'compile' | 'error' | 'timeout' | 'memory' | 'output' | 'result' | 'pending'; error: string; log: string };

export async function runScript(script: string, params: JsonObject, limits: ScriptLimits, signal: AbortSignal): Promise<RunResult> {
  const outcome = await runInWorker(script, params, limits, signal);
  const timeout = `the script did not finish within ${limits.timeoutMs} ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.`;
  const memory = `the script ran out of memory (limit ${limits.memoryMb} MB, COUNTERSIGN_SCRIPT_MEMORY_MB) and was stopped.`;
  const output = `the script wrote more than ${limits.maxOutputBytes} bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.`;
  if (outcome === 'aborted') throw new StepFailure('the script was stopped: the step ran out of time.', true);
  if (outcome === 'terminated') throw new StepFailure(timeout, false);
  if (outcome === 'worker-memory') throw new StepFailure(memory, false);
  if (typeof outcome === 'string') throw new StepFailure(`the script ended without returning a result (${excerpt(outcome, 200)}).`, false);
  if (!outcome.ok) {
    if (outcome.kind === 'timeout') throw new StepFailure(timeout, false);
    if (outcome.kind === 'memory') throw new StepFailure(memory, false);
    if (outcome.kind === 'output') throw new StepFailure(output, false);
    const what = outcome.kind === 'compile' ? `the script does not compile: ${outcome.error}` : outcome.error;
    const console = outcome.log.trim() ? ` (console: ${excerpt(outcome.log, 200)})` : '';
    throw new StepFailure(`the script failed: ${excerpt(what, 300)}${console}`, false);
  }
  let variables: unknown = null;
  try {
    variables = JSON.parse(outcome.variablesJson);
  } catch {
    // Reported below: what the engine's JSON.stringify made is not an object.
  }
  if (!isJsonObject(variables)) throw new StepFailure('the script failed: the returned value is not a JSON object.', false);
  const names = Object.keys(variables);
  return { variables, message: names.length ? `Set ${names.join(', ')}.` : 'The script set no variables.' };
}

/**
 * One worker per run: a fresh WebAssembly instance that nothing else shares, thrown away after.
 * The interrupt handler enforces the deadline inside QuickJS; terminating the worker enforces it
 * from outside, should the engine ever not return.
 */
function runInWorker(script: string, params: JsonObject, limits: ScriptLimits, signal: AbortSignal): Promise<WorkerAnswer | 'aborted' | 'terminated' | 'worker-memory' | string> {
  return new Promise((resolve) => {
    let settled = false;
    const worker = new Worker(WORKER_FILE, {
      workerData: { script, paramsJson: JSON.stringify(params), limits: { ...limits, maxStackBytes: SCRIPT_STACK_BYTES } },
      // The worker's own V8 heap holds only copies of the script, params and result.
      resourceLimits: { maxOldGenerationSizeMb: 64 + 2 * Math.ceil(limits.maxOutputBytes / (1024 * 1024)), maxYoungGenerationSizeMb: 16, stackSizeMb: WORKER_STACK_MB },
      env: {},
      stdout: true,
      stderr: true,
    });
    // Nothing the engine prints is wanted (emscripten writes only on an internal abort).
    worker.stdout.resume();
    worker.stderr.resume();
    const finish = (answer: WorkerAnswer | 'aborted' | 'terminated' | 'worker-memory' | string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      resolve(answer);
    };
    const timer = setTimeout(() => finish('terminated'), limits.timeoutMs + WORKER_START_GRACE_MS);
    const onAbort = (): void => finish('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: WorkerAnswer) => finish(m));
    worker.once('error', (e: Error & { code?: string }) => finish(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'worker-memory' : `the sandbox failed: ${e.message}`));
    worker.once('exit', (code) => finish(`the sandbox exited with code ${code}`));
  });
}
