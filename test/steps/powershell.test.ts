import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/domain/types.ts';
import { powerShellParams, powerShellStep, powerShellWrapper } from '../../src/steps/powershell/powershell.ts';
import { runEnvironment } from '../../src/steps/support/settings.ts';
import { failureOf, runInput } from './run-input.ts';

/** No PowerShell runtime installs here: the stand-in speaks the same protocol (docs/steps.md). */
const PWSH = fileURLToPath(new URL('../support/stand-ins/pwsh', import.meta.url));
const env = runEnvironment({ pwshPath: PWSH });
const ps = (ScriptContent: string, ScriptParameters: JsonObject = {}, e = env) => powerShellStep.run!(runInput({ ScriptContent, ScriptParameters }, e));

beforeAll(() => {
  process.env.COUNTERSIGN_TEST_SECRET = 'do-not-leak-42';
});
afterAll(() => {
  delete process.env.COUNTERSIGN_TEST_SECRET;
});

describe('PowerShell step', () => {
  it('the stand-in is an executable committed with its executable bit', () => {
    expect(statSync(PWSH).mode & 0o111).not.toBe(0);
  });

  it('without COUNTERSIGN_PWSH it fails naming the setting; with a path that does not exist too', async () => {
    const none = await failureOf(ps('return @{ a = 1 }', {}, runEnvironment()));
    expect(none).toEqual({ message: 'no PowerShell runtime is configured: set COUNTERSIGN_PWSH to the path of pwsh to run PowerShell steps.', retryable: false });
    const missing = await failureOf(ps('return @{ a = 1 }', {}, runEnvironment({ pwshPath: '/nonexistent/pwsh' })));
    expect(missing).toEqual({ message: "COUNTERSIGN_PWSH is set to '/nonexistent/pwsh', but no PowerShell executable is there.", retryable: false });
  });

  it('binds ScriptParameters to param() and the returned hashtable becomes variables', async () => {
    const r = await ps('param(\n  [string]$cn,\n  $days\n)\n$label = "cert $cn"\nreturn @{ "Label" = $label; \'Days\' = $days; Fixed = "yes" }', {
      cn: 'www.example.com',
      days: '12',
    });
    expect(r.variables).toEqual({ Label: 'cert www.example.com', Days: '12', Fixed: 'yes' });
  });

  it('values that are not text (a REST response held in a variable) arrive as JSON text for ConvertFrom-Json', async () => {
    expect(powerShellParams({ a: 'text', b: { value: [{ id: 'x' }] }, c: null, d: 3 })).toEqual({ a: 'text', b: '{"value":[{"id":"x"}]}', c: '', d: '3' });
    const r = await ps('param($id)\n$json = $id | ConvertFrom-Json\nreturn @{"RequesterAzureObject" = $json[0].id}', { id: [{ id: 'obj-1' }] });
    expect(r.variables).toEqual({ RequesterAzureObject: 'obj-1' });
  });

  it("a script error fails the step with PowerShell's message, not retryable", async () => {
    const f = await failureOf(ps('param($Group)\nif (-not $Group) { throw "No group found." }\nreturn @{}', { Group: '' }));
    expect(f).toEqual({ message: 'the PowerShell script failed (pwsh exited with code 1): No group found.', retryable: false });
    const unknown = await failureOf(ps('param($a)\nreturn @{}', { b: 'x' }));
    expect(unknown.message).toContain("A parameter cannot be found that matches parameter name 'b'.");
  });

  it("pwsh runs without the server's environment", async () => {
    const r = await ps('return @{ Secret = $env:COUNTERSIGN_TEST_SECRET; HasPath = [bool]$env:PATH }');
    expect(r.variables).toEqual({ Secret: null, HasPath: true });
  });

  it('the wrapper: single-line statements, Base64 parameters and script, a nonce-marked result line', () => {
    const w = powerShellWrapper("return @{ a = 'x' }", { p: 'v' }, 'abc123');
    expect(w).toContain(`FromBase64String('${Buffer.from('{"p":"v"}').toString('base64')}')) | ConvertFrom-Json -AsHashtable`);
    expect(w).toContain(
      `[scriptblock]::Create([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('${Buffer.from("return @{ a = 'x' }").toString('base64')}')))`,
    );
    expect(w).toContain('& $__csScript @__csParams');
    expect(w).toContain("[Console]::Out.WriteLine('abc123 ' + (ConvertTo-Json -InputObject $__csResult -Depth 32 -Compress))");
  });
});
