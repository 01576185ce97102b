import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/**
 * The reported escape: a Script step imported node:_tls_wrap, took TLSSocket (a net.Socket),
 * opened TCP to 127.0.0.1 and spoke PostgreSQL to the server's own database. Scripts now run in
 * QuickJS (WebAssembly) with no host API at all. Each attempt below goes through the API as an
 * attacker would: a definition with a Script step, an instance, and the instance must end Failed
 * with a clear message while a TCP listener on loopback sees no connection and the server keeps
 * answering.
 */

const TIMEOUT_MS = 1_000;
let t: TestApp;
let trap: Server;
let trapPort: number;
const connections: Socket[] = [];

beforeAll(async () => {
  trap = createServer((socket) => {
    connections.push(socket);
    socket.destroy();
  });
  await new Promise<void>((ok) => trap.listen(0, '127.0.0.1', ok));
  trapPort = (trap.address() as { port: number }).port;
  t = await startTestApp({ steps: { script: { timeoutMs: TIMEOUT_MS, memoryMb: 32, maxOutputBytes: 64 * 1024 } } });
});
afterAll(async () => {
  await t.close();
  await new Promise((ok) => trap.close(ok));
});

const scriptStep = (ScriptContent: string) => ({
  ExtensionName: 'Script',
  UniqueName: 'Attack',
  DisplayName: 'Attack',
  Enabled: true,
  ConfigurationParameters: { ScriptContent, ScriptParameters: { port: String(trapPort) } },
  Signals: [],
  Conditions: [],
  Outputs: { continue: 'EndNOOP' },
});

async function startScript(script: string): Promise<string> {
  const def = await publishedDefinition(t, [noop('StartNOOP', 'Attack'), scriptStep(script), noop('EndNOOP')], { type: 'Expiration' });
  const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def, InitialData: { cn: 'www.example.com' } } });
  expect(res.status, res.text).toBe(201);
  return res.body.Id;
}

async function finished(id: string): Promise<any> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    if ([3, 4, 5, 6].includes(got.body.Status) || Date.now() > deadline) return got.body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const failed = (reason: string) => `Step 'Attack' (Script) failed: ${reason}`;
const timedOut = failed(`the script did not finish within ${TIMEOUT_MS} ms (COUNTERSIGN_SCRIPT_TIMEOUT_MS) and was stopped.`);
const outOfMemory = failed('the script ran out of memory (limit 32 MB, COUNTERSIGN_SCRIPT_MEMORY_MB) and was stopped.');
// An endless promise chain grows QuickJS's job queue too: the clock or the memory limit stops it, whichever comes first.
const timedOutOrOutOfMemory = new RegExp(
  `^Step 'Attack' \\(Script\\) failed: the script (did not finish within ${TIMEOUT_MS} ms|ran out of memory|failed: threw null \\(QuickJS does this when it runs out of memory)`,
);

/** Attack script -> the instance's StatusMessage, exactly or as a pattern. */
const attacks: Record<string, [string, string | RegExp]> = {
  'the reported route, node:_tls_wrap': [
    'const { TLSSocket } = await import("node:_tls_wrap"); new TLSSocket().connect(5432, "127.0.0.1"); return {}',
    failed("the script failed: ReferenceError: could not load module 'node:_tls_wrap'"),
  ],
  'node:_tls_wrap to the trap port': [
    'const { TLSSocket } = await import("node:_tls_wrap"); new TLSSocket().connect(Number(params.port), "127.0.0.1"); return {}',
    failed("the script failed: ReferenceError: could not load module 'node:_tls_wrap'"),
  ],
  'import node:net': [
    'const net = await import("node:net"); net.connect(Number(params.port), "127.0.0.1"); return {}',
    failed("the script failed: ReferenceError: could not load module 'node:net'"),
  ],
  'import a relative file': ['const m = await import("../../src/config.ts"); return { k: Object.keys(m) }', /could not load module/],
  require: ['const net = require("net"); net.connect(Number(params.port), "127.0.0.1"); return {}', failed("the script failed: ReferenceError: 'require' is not defined")],
  process: ['return { env: JSON.stringify(process.env) }', failed("the script failed: ReferenceError: 'process' is not defined")],
  'globalThis walk for anything host-like': [
    `const seen = new Set(); const found = [];
     const walk = (o, depth) => { if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o) || depth > 4) return;
       seen.add(o); for (const k of Reflect.ownKeys(o)) { let v; try { v = o[k]; } catch { continue; }
         if (/process|require|socket|binding|dlopen|connect|fetch|import/i.test(String(k))) found.push(String(k)); walk(v, depth + 1); } };
     walk(globalThis, 0); throw new Error('found: ' + (found.join(',') || 'nothing'));`,
    failed('the script failed: found: nothing'),
  ],
  'constructor.constructor to process': [
    'return { p: this.constructor.constructor("return process")().pid }',
    failed("the script failed: ReferenceError: 'process' is not defined"),
  ],
  'Function constructor to globalThis.process': [
    'const g = Function("return this")(); return { p: g.process.pid }',
    failed("the script failed: TypeError: cannot read property 'pid' of undefined"),
  ],
  'prototype tricks on params': [
    'params.__proto__.polluted = 1; Object.prototype.constructor.constructor("return process")(); return {}',
    failed("the script failed: ReferenceError: 'process' is not defined"),
  ],
  setTimeout: ['await new Promise((r) => setTimeout(r, 10)); return {}', failed("the script failed: ReferenceError: 'setTimeout' is not defined")],
  setInterval: ['setInterval(() => {}, 1); return {}', failed("the script failed: ReferenceError: 'setInterval' is not defined")],
  fetch: ['return { r: await (await fetch("http://127.0.0.1:" + params.port)).text() }', failed("the script failed: ReferenceError: 'fetch' is not defined")],
  WebAssembly: ['return { m: new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])) }', failed("the script failed: ReferenceError: 'WebAssembly' is not defined")],
  'a huge string': ["return { n: 'x'.repeat(1e9).length }", outOfMemory],
  'an array growing forever': ["const a = []; let i = 0; while (true) a.push('x'.repeat(1_000_000) + i++);", outOfMemory],
  'an infinite loop': ['while (true) {}', timedOut],
  'an infinite loop that catches': ['for (;;) { try { while (true) {} } catch (e) {} }', timedOut],
  'deep recursion': ['const f = (n) => f(n + 1) + 1; return { n: f(0) }', failed('the script failed: InternalError: stack overflow')],
  'an infinite promise chain': ['const f = () => Promise.resolve().then(f); await f(); return {}', timedOutOrOutOfMemory],
  'awaiting forever': [
    'await new Promise(() => {}); return {}',
    failed('the script failed: the script awaits something that never settles (there are no timers or I/O in the sandbox)'),
  ],
  'a result larger than the output cap': [
    "return { big: 'x'.repeat(200 * 1024) }",
    failed('the script wrote more than 65536 bytes (COUNTERSIGN_SCRIPT_MAX_OUTPUT_BYTES) and was stopped.'),
  ],
  'a non-object result': ['return 42', failed('the script failed: TypeError: the script must return an object whose keys become variables, not number')],
};

describe('Script steps cannot escape the sandbox (over HTTP, as an attacker would)', () => {
  it('every attempt ends Failed with a clear message; the trap sees no connection; the server still answers', async () => {
    const ids = new Map<string, string>();
    for (const [name, [script]] of Object.entries(attacks)) ids.set(name, await startScript(script));
    for (const [name, [, expected]] of Object.entries(attacks)) {
      const instance = await finished(ids.get(name)!);
      expect(instance.Status, `${name}: ${instance.StatusMessage}`).toBe(5);
      if (typeof expected === 'string') expect(instance.StatusMessage, name).toBe(expected);
      else expect(instance.StatusMessage, name).toMatch(expected);
    }
    expect(connections).toHaveLength(0);
    expect((await t.call('GET', '/KeyfactorAPI/Status/HealthCheck', { unchecked: true })).status).toBe(204);
  }, 240_000);

  it('a script that never ends does not block the server: the API answers while it runs', async () => {
    const id = await startScript('while (true) {}');
    // Wait until the runner has picked the step up, then time API calls during the run.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(500);
    }
    expect((await finished(id)).StatusMessage).toBe(timedOut);
  }, 60_000);

  it('a legitimate script still works end to end', async () => {
    const instance = await finished(await startScript('const n = await Promise.resolve(Number(params.port)); return { TrapPortIsNumber: n > 0 ? "True" : "False" }'));
    expect(instance.Status).toBe(3);
    expect(instance.CurrentStateData).toMatchObject({ TrapPortIsNumber: 'True' });
  }, 60_000);

  it('PUT Steps refuses a script that does not compile, in the QuickJS parser, and changes nothing', async () => {
    const id = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')], { type: 'Expiration' });
    const before = await t.call('GET', `/KeyfactorAPI/Workflow/Definitions/${id}`);
    for (const script of ['return {', 'import net from "node:net"; return {}', `return ${'('.repeat(100_000)}1${')'.repeat(100_000)}`]) {
      const res = await t.call('PUT', `/KeyfactorAPI/Workflow/Definitions/${id}/Steps`, { body: [noop('StartNOOP', 'Attack'), scriptStep(script), noop('EndNOOP')] });
      expect(res.status, res.text).toBe(400);
      expect(res.body.Message).toMatch(/ScriptContent: does not compile: SyntaxError/);
    }
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Definitions/${id}`)).body).toEqual(before.body);
  }, 60_000);
});
