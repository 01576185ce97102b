import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { JsonObject } from '../domain/types.ts';
import { runProcess } from './child-process.ts';
import { param, StepFailure, type RunInput, type RunResult, type StepType } from './plugin.ts';
import { stepSettings, type ScriptLimits } from './settings.ts';
import { excerpt, isJsonObject } from './support.ts';

/**
 * Script (ours): JavaScript with the PowerShell step's contract. ScriptContent is the body of an
 * async function receiving `params` (ScriptParameters after tokens) and returning an object
 * whose keys become variables. It runs in a separate node process under the permission model,
 * with an empty environment, a heap limit, a resident-memory ceiling, a wall-clock timeout and
 * an output cap (src/steps/script-sandbox.cjs; docs/steps.md says what that does and does not
 * stop).
 */
export const scriptStep: StepType = {
  extensionName: 'Script',
  displayName: 'Run JavaScript',
  description: 'Runs JavaScript in a separate, time- and memory-limited process; the object it returns becomes variables.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ScriptContent: param('Script content', 'string', { required: true, tooltip: 'The body of an async function (params) => ({ Name: value }).' }),
    ScriptParameters: param('Script parameters', 'stringMap', { tokens: true, default: {}, tooltip: 'Name to value; a value that is one token keeps its JSON type.' }),
  },
  validate: (config) => {
    if (typeof config.ScriptContent !== 'string') return [];
    try {
      // Compiles without running: syntax errors show at PUT Steps rather than at run time.
      new AsyncFunction('params', config.ScriptContent);
      return [];
    } catch (err) {
      return [`ScriptContent: does not compile: ${err instanceof Error ? err.message : String(err)}`];
    }
  },
  enter: () => ({ kind: 'run' }),
  run: (input) => {
    const params = isJsonObject(input.config.ScriptParameters) ? input.config.ScriptParameters : {};
    return runScript(String(input.config.ScriptContent ?? ''), params, stepSettings(input.env).script, input.signal);
  },
};

const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<unknown>;

export const SANDBOX_FILE = fileURLToPath(new URL('./script-sandbox.cjs', import.meta.url));

/** Node 20 spells the permission flag --experimental-permission; later versions --permission. */
const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';

export async function runScript(script: string, params: JsonObject, limits: ScriptLimits, signal: AbortSignal): Promise<RunResult> {
  const nonce = randomBytes(16).toString('hex');
  const out = await runProcess({
    command: process.execPath,
    args: [PERMISSION_FLAG, `--allow-fs-read=${SANDBOX_FILE}`, `--max-old-space-size=${limits.memoryMb}`, '--no-warnings', SANDBOX_FILE],
    stdin: JSON.stringify({ nonce, script, params }),
    env: {},
    cwd: tmpdir(),
    timeoutMs: limits.timeoutMs,
    maxOutputBytes: limits.maxOutputBytes,
    // The heap limit bounds JavaScript objects; buffers and the runtime itself live outside it.
    maxRssMb: limits.memoryMb + 96,
    signal,
  });
  if (out.spawnError) throw new StepFailure(`the script process could not be started (${out.spawnError.code ?? out.spawnError.message}).`, true);
  if (out.limit === 'aborted') throw new StepFailure('the script was stopped: the step ran out of time.', true);
  if (out.limit === 'timeout') throw new StepFailure(`the script did not finish within ${limits.timeoutMs} ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.`, false);
  if (out.limit === 'output') throw new StepFailure(`the script wrote more than ${limits.maxOutputBytes} bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.`, false);
  if (out.limit === 'memory' || /heap out of memory|Reached heap limit|Allocation failed/i.test(out.stderr))
    throw new StepFailure(`the script ran out of memory (limit ${limits.memoryMb} MB, COUNTERSIGN_SCRIPT_MEMORY_MB) and was stopped.`, false);
  const answer = lastAnswer(out.stdout, nonce);
  if (!answer) {
    const how = out.signal ? `was killed by ${out.signal}` : `exited with code ${out.code}`;
    const note = out.stderr.trim() ? `: ${excerpt(out.stderr, 200)}` : '';
    throw new StepFailure(`the script ended without returning a result (it ${how})${note}.`, false);
  }
  if (!answer.ok) throw new StepFailure(`the script failed: ${excerpt(String(answer.error ?? 'unknown error'), 300)}`, false);
  if (!isJsonObject(answer.variables)) throw new StepFailure('the script returned no object.', false);
  const names = Object.keys(answer.variables);
  return { variables: answer.variables, message: names.length ? `Set ${names.join(', ')}.` : 'The script set no variables.' };
}

function lastAnswer(stdout: string, nonce: string): { ok: boolean; variables?: unknown; error?: unknown } | null {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].startsWith(`${nonce} `)) continue;
    try {
      return JSON.parse(lines[i].slice(nonce.length + 1));
    } catch {
      return null;
    }
  }
  return null;
}
