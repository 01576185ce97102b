import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { JsonObject } from '../../domain/types.ts';
import { runProcess } from '../support/child-process.ts';
import { param, StepFailure, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import { stepSettings } from '../support/settings.ts';
import { excerpt, isJsonObject, stringOf } from '../support/support.ts';

/**
 * PowerShell ("Set Variable Data"): runs ScriptContent with pwsh, binding ScriptParameters as
 * its param() values; the keys of the hashtable it returns become variables.
 *
 * Invocation protocol (docs/steps.md):
 *   pwsh -NoProfile -NonInteractive -NoLogo -Command -
 * with the wrapper from `powerShellWrapper` on stdin. The wrapper decodes the parameters
 * (Base64 JSON, every value a string) and the script (Base64 UTF-8), runs the script with the
 * parameters splatted, and prints one line `<nonce> <JSON of the last hashtable the script
 * output>`. A script error goes to stderr with exit code 1.
 */
export const powerShellStep: StepType = {
  extensionName: 'PowerShell',
  displayName: 'Set Variable Data',
  description: 'Runs an inline PowerShell script; the keys of the hashtable it returns become variables.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ScriptContent: param('Script content', 'string', { required: true, tooltip: 'param(...) receives ScriptParameters; return @{ "Name" = value } sets variables.' }),
    ScriptParameters: param('Script parameters', 'stringMap', {
      tokens: true,
      default: {},
      tooltip: 'Name to value; values that are not text (a REST response, a list) arrive as JSON text.',
    }),
  },
  enter: () => ({ kind: 'run' }),
  run: runPowerShell,
};

export const PWSH_ARGS = ['-NoProfile', '-NonInteractive', '-NoLogo', '-Command', '-'];

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The wrapper script: single-line statements, as `-Command -` reads stdin line by line. */
export function powerShellWrapper(script: string, params: Record<string, string>, nonce: string): string {
  return [
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'",
    `$__csParams = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('${b64(JSON.stringify(params))}')) | ConvertFrom-Json -AsHashtable`,
    'if ($null -eq $__csParams) { $__csParams = @{} }',
    `$__csScript = [scriptblock]::Create([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('${b64(script)}')))`,
    'try { $__csOut = @(& $__csScript @__csParams) } catch { [Console]::Error.WriteLine($_.Exception.Message); exit 1 }',
    '$__csResult = $__csOut | Where-Object { $_ -is [System.Collections.IDictionary] } | Select-Object -Last 1',
    'if ($null -eq $__csResult) { $__csResult = @{} }',
    `[Console]::Out.WriteLine('${nonce} ' + (ConvertTo-Json -InputObject $__csResult -Depth 32 -Compress))`,
    'exit 0',
    '',
  ].join('\n');
}

/** ScriptParameters as pwsh receives them: text as is, null as '', anything else as JSON text. */
export function powerShellParams(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isJsonObject(value)) return out;
  for (const [k, v] of Object.entries(value)) out[k] = stringOf(v);
  return out;
}

async function runPowerShell(input: RunInput): Promise<RunResult> {
  const settings = stepSettings(input.env);
  const pwsh = settings.pwshPath;
  if (!pwsh) throw new StepFailure('no PowerShell runtime is configured: set COUNTERSIGN_PWSH to the path of pwsh to run PowerShell steps.', false);
  let isFile = false;
  try {
    isFile = statSync(pwsh).isFile();
  } catch {
    /* reported below */
  }
  if (!isFile) throw new StepFailure(`COUNTERSIGN_PWSH is set to '${pwsh}', but no PowerShell executable is there.`, false);
  const nonce = randomBytes(16).toString('hex');
  const home = tmpdir();
  const out = await runProcess({
    command: pwsh,
    args: PWSH_ARGS,
    stdin: powerShellWrapper(String(input.config.ScriptContent ?? ''), powerShellParams(input.config.ScriptParameters), nonce),
    // Nothing of the server's environment but PATH: no database URL, no passwords.
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      TMPDIR: home,
      LANG: 'C.UTF-8',
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
      DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    },
    cwd: home,
    timeoutMs: settings.script.timeoutMs,
    maxOutputBytes: settings.script.maxOutputBytes,
    signal: input.signal,
  });
  if (out.spawnError) {
    const retryable = out.spawnError.code !== 'ENOENT' && out.spawnError.code !== 'EACCES';
    throw new StepFailure(`COUNTERSIGN_PWSH '${pwsh}' could not be started (${out.spawnError.code ?? out.spawnError.message}).`, retryable);
  }
  if (out.limit === 'aborted') throw new StepFailure('the PowerShell script was stopped: the step ran out of time.', true);
  if (out.limit === 'timeout')
    throw new StepFailure(`the PowerShell script did not finish within ${settings.script.timeoutMs} ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.`, false);
  if (out.limit === 'output')
    throw new StepFailure(`the PowerShell script wrote more than ${settings.script.maxOutputBytes} bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.`, false);
  const line = out.stdout
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith(`${nonce} `));
  if (out.code !== 0 || !line) {
    const how = out.signal ? `was killed by ${out.signal}` : `exited with code ${out.code}`;
    const note = out.stderr.trim() ? `: ${excerpt(out.stderr, 300)}` : '';
    throw new StepFailure(`the PowerShell script failed (pwsh ${how})${note}`, false);
  }
  let variables: unknown;
  try {
    variables = JSON.parse(line.slice(nonce.length + 1));
  } catch {
    throw new StepFailure('pwsh printed a result that is not JSON.', false);
  }
  if (!isJsonObject(variables)) throw new StepFailure('the PowerShell script returned no hashtable.', false);
  const names = Object.keys(variables as JsonObject);
  return { variables: variables as JsonObject, message: names.length ? `Set ${names.join(', ')}.` : 'The script set no variables.' };
}
