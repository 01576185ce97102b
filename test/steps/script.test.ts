import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/domain/types.ts';
import { runScript, scriptStep } from '../../src/steps/script/script.ts';
import { runEnvironment, type ScriptLimits } from '../../src/steps/support/settings.ts';
import { startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';
import { failureOf, runInput } from './run-input.ts';

const limits: ScriptLimits = { timeoutMs: 2_000, memoryMb: 32, maxOutputBytes: 64 * 1024 };
const run = (script: string, params: JsonObject = {}, over: Partial<ScriptLimits> = {}) => runScript(script, params, { ...limits, ...over }, AbortSignal.timeout(30_000));

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
  it('runs the body as an async function of params; awaits promises; the returned keys become variables', async () => {
    const r = await run(
      'const list = await Promise.all(params.list.map(async (x) => x.toUpperCase()));\nreturn await Promise.resolve({ Upper: params.cn.toUpperCase(), Count: list.length, Nested: { ok: true, none: null } });',
      {
        cn: 'www.example.com',
        list: ['a', 'b'],
      },
    );
    expect(r.variables).toEqual({ Upper: 'WWW.EXAMPLE.COM', Count: 2, Nested: { ok: true, none: null } });
    expect(r.message).toBe('Set Upper, Count, Nested.');
  });

  it('through the step type: ScriptParameters after tokens are the params', async () => {
    const r = await scriptStep.run!(
      runInput({ ScriptContent: 'return { NeedsApproval: params.days < 30 ? "True" : "False" }', ScriptParameters: { days: 12 } }, runEnvironment({ script: limits })),
    );
    expect(r.variables).toEqual({ NeedsApproval: 'True' });
  });

  it('a "__proto__" key in params is data, not a prototype', async () => {
    const r = await run('return { own: Object.keys(params).join(","), proto: Object.getPrototypeOf(params) === Object.prototype }', JSON.parse('{"__proto__": {"x": 1}, "a": 2}'));
    expect(r.variables).toEqual({ own: '__proto__,a', proto: true });
  });

  it('returning nothing sets no variables; returning a non-object, throwing or not compiling fails, not retryable', async () => {
    expect((await run('const x = 1;')).variables).toEqual({});
    expect(await failureOf(run('return [1, 2]'))).toEqual({
      message: 'the script failed: TypeError: the script must return an object whose keys become variables, not an array',
      retryable: false,
    });
    expect(await failureOf(run('return "text"'))).toEqual({
      message: 'the script failed: TypeError: the script must return an object whose keys become variables, not string',
      retryable: false,
    });
    expect(await failureOf(run('return { toJSON: () => undefined }'))).toEqual({
      message: 'the script failed: TypeError: the returned value cannot be written as JSON',
      retryable: false,
    });
    expect(await failureOf(run('return { toJSON: () => [1] }'))).toEqual({ message: 'the script failed: the returned value is not a JSON object.', retryable: false });
    expect(await failureOf(run('return { n: 1n }'))).toMatchObject({ message: expect.stringMatching(/^the script failed: TypeError: /), retryable: false });
    expect(await failureOf(run('throw new Error("no owner for " + params.cn)', { cn: 'x' }))).toEqual({ message: 'the script failed: no owner for x', retryable: false });
    expect(await failureOf(run('await Promise.reject(new TypeError("bad"))'))).toEqual({ message: 'the script failed: TypeError: bad', retryable: false });
    expect((await failureOf(run('return {'))).message).toMatch(/^the script failed: the script does not compile: SyntaxError: /);
  });

  it('console output is kept (capped) and shown when the script fails', async () => {
    const f = await failureOf(run('console.log("looking up", params.cn, { n: 1 }); throw new Error("none")', { cn: 'a.example' }));
    expect(f).toEqual({ message: 'the script failed: none (console: looking up a.example {"n":1})', retryable: false });
    const huge = await failureOf(run("console.log('x'.repeat(10_000_000)); return {}"));
    expect(huge).toEqual({ message: 'the script wrote more than 65536 bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.', retryable: false });
    const flood = await failureOf(run("while (true) console.log('x'.repeat(1000))"));
    expect(flood).toEqual({ message: 'the script wrote more than 65536 bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.', retryable: false });
  });

  it('validation compiles in QuickJS without running anything', () => {
    expect(scriptStep.validate!({ ScriptContent: 'return {' })[0]).toMatch(/^ScriptContent: does not compile: SyntaxError: /);
    expect(scriptStep.validate!({ ScriptContent: 'return { a: 1 }' })).toEqual([]);
    // Compiling is not running: an endless loop compiles at once.
    const started = Date.now();
    expect(scriptStep.validate!({ ScriptContent: 'while (true) {}' })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Deep nesting is refused by QuickJS's own stack limit, not by the host's.
    expect(scriptStep.validate!({ ScriptContent: `return ${'('.repeat(100_000)}1${')'.repeat(100_000)}` })).toEqual([
      'ScriptContent: does not compile: SyntaxError: stack overflow',
    ]);
    // Syntax QuickJS does not have: the parser that runs the script decides.
    expect(scriptStep.validate!({ ScriptContent: 'import fs from "node:fs"; return {}' })[0]).toMatch(/^ScriptContent: does not compile: SyntaxError/);
  });

  it('no host API exists: no require, process, import of modules, fetch, timers, WebAssembly', async () => {
    const r = await run(
      'return { require: typeof require, process: typeof process, fetch: typeof fetch, setTimeout: typeof setTimeout, setInterval: typeof setInterval, WebAssembly: typeof WebAssembly, Buffer: typeof Buffer, module: typeof module }',
    );
    expect(r.variables).toEqual({
      require: 'undefined',
      process: 'undefined',
      fetch: 'undefined',
      setTimeout: 'undefined',
      setInterval: 'undefined',
      WebAssembly: 'undefined',
      Buffer: 'undefined',
      module: 'undefined',
    });
    expect(await failureOf(run('await new Promise((r) => setTimeout(r, 10)); return {}'))).toEqual({
      message: "the script failed: ReferenceError: 'setTimeout' is not defined",
      retryable: false,
    });
    const files = await failureOf(run(`const fs = await import('node:fs'); return { data: fs.readFileSync(${JSON.stringify(dbFile)}, 'utf8') }`));
    expect(files).toEqual({ message: "the script failed: ReferenceError: could not load module 'node:fs'", retryable: false });
  });

  it('the globals are ECMAScript built-ins only, and the Function constructor leads nowhere', async () => {
    const r = await run('return { names: Object.getOwnPropertyNames(globalThis).sort(), self: typeof Function("return this")(), env: Function("return typeof process")() }');
    const names = r.variables!.names as string[];
    for (const host of [
      'process',
      'require',
      'module',
      'Buffer',
      'fetch',
      'setTimeout',
      'setInterval',
      'setImmediate',
      'queueMicrotask',
      'WebAssembly',
      'XMLHttpRequest',
      'WebSocket',
      'std',
      'os',
    ])
      expect(names, host).not.toContain(host);
    expect(names).toContain('console');
    expect(r.variables).toMatchObject({ self: 'object', env: 'undefined' });
  });

  it("cannot see the server's environment or files", async () => {
    expect(process.env.COUNTERSIGN_TEST_SECRET).toBe('do-not-leak-42');
    const f = await failureOf(run("return { s: this.constructor.constructor('return process')().env.COUNTERSIGN_TEST_SECRET }"));
    expect(f).toEqual({ message: "the script failed: ReferenceError: 'process' is not defined", retryable: false });
  });

  it('cannot run forever: loops, promise chains and awaiting nothing all end', async () => {
    const started = Date.now();
    expect(await failureOf(run('while (true) {}', {}, { timeoutMs: 500 }))).toEqual({
      message: 'the script did not finish within 500 ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.',
      retryable: false,
    });
    expect(await failureOf(run('try { while (true) {} } catch (e) {} return { escaped: true }', {}, { timeoutMs: 500 }))).toEqual({
      message: 'the script did not finish within 500 ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.',
      retryable: false,
    });
    // An endless promise chain also grows QuickJS's job queue: on a slow (loaded) machine the
    // memory limit can stop it before the clock does. Either way it ends, clearly, for good.
    const STOPPED = /did not finish within 500 ms \(COUNTERSIGN_SCRIPT_TIMEOUT_MS\) and was stopped|ran out of memory|QuickJS does this when it runs out of memory|stack overflow/;
    expect(await failureOf(run('const f = () => Promise.resolve().then(f); await f();', {}, { timeoutMs: 500 }))).toEqual({
      message: expect.stringMatching(STOPPED),
      retryable: false,
    });
    // Time spent inside one built-in (here QuickJS's JSON.stringify of deep nesting, which checks
    // for cycles level by level) is not interruptible: the worker is terminated from outside.
    const builtin = Date.now();
    expect(await failureOf(run('let a = []; for (let i = 0; i < 100000; i++) a = [a]; return { s: JSON.stringify(a) }', {}, { timeoutMs: 500 }))).toEqual({
      message: expect.stringMatching(STOPPED),
      retryable: false,
    });
    expect(Date.now() - builtin).toBeLessThan(8_000);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(await failureOf(run('await new Promise(() => {}); return {}'))).toEqual({
      message: 'the script failed: the script awaits something that never settles (there are no timers or I/O in the sandbox)',
      retryable: false,
    });
  });

  it('cannot exhaust memory or the stack', async () => {
    const memory = 'the script ran out of memory (limit 32 MB, COUNTERSIGN_SCRIPT_MEMORY_MB) and was stopped.';
    expect(await failureOf(run("return { n: 'x'.repeat(1e9).length }"))).toEqual({ message: memory, retryable: false });
    expect(await failureOf(run("const a = []; let i = 0; while (true) a.push('x'.repeat(1_000_000) + i++); return {}"))).toEqual({ message: memory, retryable: false });
    expect(await failureOf(run("let s = 'x'; while (true) s = s + s; return {}"))).toEqual({ message: 'the script failed: InternalError: string too long', retryable: false });
    // Many small allocations: the heap limit or, when QuickJS's collector slows near it, the deadline ends it.
    const grow = await failureOf(run('const a = []; while (true) a.push(new Array(100_000).fill(Math.random()));', {}, { timeoutMs: 1_000 }));
    expect([memory, 'the script did not finish within 1000 ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.']).toContain(grow.message);
    expect(await failureOf(run('function f(n) { return f(n + 1) + 1 } return { n: f(0) }'))).toEqual({
      message: 'the script failed: InternalError: stack overflow',
      retryable: false,
    });
  });

  it('cannot return more than the output limit', async () => {
    const f = await failureOf(run("return { big: 'x'.repeat(200 * 1024) }"));
    expect(f).toEqual({ message: 'the script wrote more than 65536 bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.', retryable: false });
  });

  it('the job being stopped stops the script, retryable', async () => {
    const f = await failureOf(runScript('while (true) {}', {}, limits, AbortSignal.timeout(300)));
    expect(f).toEqual({ message: 'the script was stopped: the step ran out of time.', retryable: true });
  });

  it('cannot reach the network: the loopback server sees no connection', async () => {
    const port = new URL(http.url).port;
    for (const script of [
      `const { TLSSocket } = await import("node:_tls_wrap"); new TLSSocket().connect(5432, "127.0.0.1"); return {}`,
      `const net = await import('node:net'); net.connect(${port}, '127.0.0.1'); return {}`,
      `return { r: await (await fetch('${http.url}')).text() }`,
    ]) {
      const f = await failureOf(run(script));
      expect(f.retryable).toBe(false);
      expect(f.message).toMatch(/^the script failed: ReferenceError: /);
    }
    expect(http.connections).toBe(0);
  });
});
