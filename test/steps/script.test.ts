import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/domain/types.ts';
import { runScript, scriptStep } from '../../src/steps/script.ts';
import { runEnvironment, type ScriptLimits } from '../../src/steps/settings.ts';
import { startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';
import { failureOf, runInput } from './run-input.ts';

const limits: ScriptLimits = { timeoutMs: 5_000, memoryMb: 48, maxOutputBytes: 64 * 1024 };
const run = (script: string, params: JsonObject = {}, over: Partial<ScriptLimits> = {}) => runScript(script, params, { ...limits, ...over }, AbortSignal.timeout(20_000));

let dir: string;
let dbFile: string;
let http: HttpStandIn;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-script-'));
  dbFile = join(dir, 'countersign.db');
  writeFileSync(dbFile, 'SQLite format 3\0 top secret rows');
  http = await startHttp((_req, res) => res.end('reached'));
  process.env.COUNTERSIGN_TEST_SECRET = 'do-not-leak-42';
});
afterAll(async () => {
  delete process.env.COUNTERSIGN_TEST_SECRET;
  rmSync(dir, { recursive: true, force: true });
  await http.close();
});

describe('Script step', () => {
  it('runs the body as an async function of params; the returned keys become variables', async () => {
    const r = await run('await new Promise((r) => setTimeout(r, 10));\nreturn { Upper: params.cn.toUpperCase(), Count: params.list.length, Nested: { ok: true, none: null } };', {
      cn: 'www.example.com',
      list: ['a', 'b'],
    });
    expect(r.variables).toEqual({ Upper: 'WWW.EXAMPLE.COM', Count: 2, Nested: { ok: true, none: null } });
    expect(r.message).toBe('Set Upper, Count, Nested.');
  });

  it('through the step type: ScriptParameters after tokens are the params', async () => {
    const r = await scriptStep.run!(
      runInput({ ScriptContent: 'return { NeedsApproval: params.days < 30 ? "True" : "False" }', ScriptParameters: { days: 12 } }, runEnvironment({ script: limits })),
    );
    expect(r.variables).toEqual({ NeedsApproval: 'True' });
  });

  it('returning nothing sets no variables; returning a non-object, throwing or not compiling fails, not retryable', async () => {
    expect((await run('const x = 1;')).variables).toEqual({});
    expect(await failureOf(run('return [1, 2]'))).toEqual({ message: 'the script failed: the script must return an object whose keys become variables, not an array', retryable: false });
    expect(await failureOf(run('throw new Error("no owner for " + params.cn)', { cn: 'x' }))).toEqual({ message: 'the script failed: no owner for x', retryable: false });
    expect(await failureOf(run('await Promise.reject(new TypeError("bad"))'))).toEqual({ message: 'the script failed: TypeError: bad', retryable: false });
    expect((await failureOf(run('return {'))).message).toMatch(/^the script failed: the script does not compile: SyntaxError/);
    expect(scriptStep.validate!({ ScriptContent: 'return {' })[0]).toMatch(/^ScriptContent: does not compile: /);
    expect(scriptStep.validate!({ ScriptContent: 'return { a: 1 }' })).toEqual([]);
  });

  it('cannot read files: not /etc/passwd, not the database file', async () => {
    for (const file of ['/etc/passwd', dbFile]) {
      const viaImport = await failureOf(run(`const fs = await import('node:fs'); return { data: fs.readFileSync(${JSON.stringify(file)}, 'utf8') };`));
      expect(viaImport.message).toBe("the script failed: 'fs' is not available to Countersign scripts");
      const viaPromises = await failureOf(run(`const fs = await import('node:fs/promises'); return { data: await fs.readFile(${JSON.stringify(file)}, 'utf8') };`));
      expect(viaPromises.message).toBe("the script failed: 'fs/promises' is not available to Countersign scripts");
    }
    const viaRequire = await failureOf(run("return { data: require('fs').readFileSync('/etc/passwd', 'utf8') }"));
    expect(viaRequire.message).toBe('the script failed: ReferenceError: require is not defined');
  });

  it("cannot see the server's environment (no COUNTERSIGN_* variables)", async () => {
    expect(process.env.COUNTERSIGN_TEST_SECRET).toBe('do-not-leak-42');
    const r = await run("const p = (await import('node:process')).default; return { env: JSON.stringify(p.env), global: typeof process };");
    expect(r.variables).toEqual({ env: '{}', global: 'undefined' });
  });

  it('cannot reach the network, start processes or threads, or signal other processes', async () => {
    const port = new URL(http.url).port;
    const attempts: Record<string, string> = {
      fetch: `return { r: await (await fetch('${http.url}')).text() }`,
      http: `const h = await import('node:http'); await new Promise((ok, ko) => h.get('${http.url}', ok).on('error', ko)); return {}`,
      net: `const net = await import('node:net'); net.connect(${port}, '127.0.0.1'); return {}`,
      netDefault: `const net = (await import('node:net')).default; new net.Socket().connect(${port}, '127.0.0.1'); return {}`,
      childProcess: "const cp = await import('node:child_process'); return { out: String(cp.execSync('id')) }",
      worker: "const { Worker } = await import('node:worker_threads'); new Worker('1', { eval: true }); return {}",
      kill: "const p = (await import('node:process')).default; p.kill(p.ppid, 'SIGTERM'); return {}",
      binding: "const p = (await import('node:process')).default; p.binding('tcp_wrap'); return {}",
    };
    for (const [name, script] of Object.entries(attempts)) {
      const f = await failureOf(run(script));
      expect(f.retryable, name).toBe(false);
      expect(f.message, name).toMatch(/^the script failed: /);
    }
    expect(http.connections).toBe(0);
  });

  it('cannot run forever: the process is killed at the timeout', async () => {
    const started = Date.now();
    const f = await failureOf(run('while (true) {}', {}, { timeoutMs: 500 }));
    expect(f).toEqual({ message: 'the script did not finish within 500 ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.', retryable: false });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('cannot allocate unbounded memory: heap and buffers both end cleanly', async () => {
    const heap = await failureOf(run('const a = []; while (true) a.push(new Array(100_000).fill(Math.random()));', {}, { memoryMb: 32, timeoutMs: 20_000 }));
    expect(heap).toEqual({ message: 'the script ran out of memory (limit 32 MB, COUNTERSIGN_SCRIPT_MEMORY_MB) and was stopped.', retryable: false });
    const buffers = await failureOf(run('const a = []; while (true) { a.push(Buffer.alloc(8 * 1024 * 1024, 1)); await null; }', {}, { memoryMb: 32, timeoutMs: 20_000 }));
    expect(buffers.message).toBe('the script ran out of memory (limit 32 MB, COUNTERSIGN_SCRIPT_MEMORY_MB) and was stopped.');
  });

  it('cannot return more than the output limit; printing goes nowhere near the result', async () => {
    const f = await failureOf(run("return { big: 'x'.repeat(200 * 1024) }"));
    expect(f).toEqual({ message: 'the script wrote more than 65536 bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.', retryable: false });
    const r = await run("console.log('{\"ok\":true,\"variables\":{\"forged\":1}}'); return { real: 1 }");
    expect(r.variables).toEqual({ real: 1 });
  });
});
