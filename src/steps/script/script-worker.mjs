// @ts-check
/*
 * The worker side of the Script step (src/steps/script.ts). Plain JavaScript so that a worker
 * thread runs it without a TypeScript loader.
 *
 * The script runs inside QuickJS compiled to WebAssembly (quickjs-emscripten). The QuickJS
 * context is created here with its standard ECMAScript built-ins only: it has no require, no
 * import of host modules, no process, no fetch, no timers, no file, network or process API. The
 * only things handed in are the script text, the params as a JSON string, and console.* (which
 * appends text to a capped buffer here). Nothing of Node is reachable from inside the engine;
 * code there can only compute on values and return one.
 *
 * Limits: a WebAssembly memory that cannot grow past the module's initial 16 MB plus the
 * configured megabytes (QuickJS's own setMemoryLimit is set too, but this build cannot measure
 * block sizes, so it counts allocations rather than bytes: the memory maximum is what holds),
 * a QuickJS stack limit (setMaxStackSize), a
 * wall-clock deadline checked by the interrupt handler (the parent thread also terminates this
 * worker past the deadline), and a cap on console text plus the JSON of the result.
 *
 * Two modes, chosen by workerData.mode:
 *
 * - 'run': workerData = { script, paramsJson, limits: { timeoutMs, memoryMb, maxOutputBytes,
 *   maxStackBytes } }; one message back: { ok: true, variablesJson, log } or
 *   { ok: false, kind, error, log } with kind one of compile | error | timeout | memory | output |
 *   result | pending. One worker per run, thrown away after.
 * - 'validate': a long-lived worker that only compiles (never calls) script bodies for PUT Steps.
 *   Requests { script, flag } arrive on workerData.port; the answer { problem } goes back on the
 *   same port, then flag[0] is set and notified so that the caller, blocked in Atomics.wait, can
 *   read it synchronously. Compiling here, not on the main thread, keeps QuickJS's parser on this
 *   thread's larger stack, where its own stack limit catches deep nesting.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC } from 'quickjs-emscripten';

/** What a compile check may use; the parser needs no more than this. */
const VALIDATE_MEMORY_MB = 32;

/** The module's own initial memory (emscripten's INITIAL_MEMORY): the runtime and its data. */
const BASE_PAGES = (16 * 1024 * 1024) / 65536;

/**
 * A fresh QuickJS module whose WebAssembly memory can grow by at most `memoryMb`: when the
 * script needs more, malloc fails inside the engine and QuickJS throws "out of memory".
 * @param {number} memoryMb
 */
function boundedQuickJS(memoryMb) {
  const wasmMemory = new WebAssembly.Memory({ initial: BASE_PAGES, maximum: BASE_PAGES + memoryMb * 16 });
  return newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory }));
}

/** @param {object} message */
function reply(message) {
  parentPort?.postMessage(message);
}

// console text so far; shown with a failure.
let log = '';
let logBytes = 0;
let outputExceeded = false;

class Limit extends Error {
  /** @param {string} kind @param {string} message */
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** @param {{ script: string, paramsJson: string, limits: { timeoutMs: number, memoryMb: number, maxOutputBytes: number, maxStackBytes: number } }} input */
async function run({ script, paramsJson, limits }) {
  const QuickJS = await boundedQuickJS(limits.memoryMb);
  const runtime = QuickJS.newRuntime();
  const deadline = Date.now() + limits.timeoutMs;
  let interrupted = false;
  runtime.setMemoryLimit(limits.memoryMb * 1024 * 1024);
  runtime.setMaxStackSize(limits.maxStackBytes);
  runtime.setInterruptHandler(() => {
    if (Date.now() > deadline) interrupted = true;
    return interrupted;
  });
  const vm = runtime.newContext();

  /** The message of an error handle from the VM, classified by what stopped the script. */
  const failure = (/** @type {import('quickjs-emscripten').QuickJSHandle} */ handle, /** @type {string} */ fallbackKind) => {
    let text;
    try {
      const e = vm.dump(handle);
      text = e && typeof e === 'object' && typeof e.message === 'string' ? (e.name && e.name !== 'Error' ? `${e.name}: ` : '') + e.message : `threw ${safeString(e)}`;
      // QuickJS throws null when it cannot even allocate its "out of memory" error.
      if (e === null) text = 'threw null (QuickJS does this when it runs out of memory, unless the script threw null itself)';
    } catch {
      text = 'threw a value that cannot be shown';
    } finally {
      handle.dispose();
    }
    if (interrupted) return new Limit('timeout', text);
    if (outputExceeded) return new Limit('output', text);
    if (/out of memory/i.test(text)) return new Limit('memory', text);
    return new Limit(fallbackKind, text);
  };

  /** Calls a VM function; returns its result handle or throws a Limit. */
  const call = (/** @type {any} */ fn, /** @type {string} */ kind, /** @type {any[]} */ ...args) => {
    const r = vm.callFunction(fn, vm.undefined, ...args);
    if (r.error) throw failure(r.error, kind);
    return r.value;
  };

  // Handles are not disposed on the way out: the worker, and with it the whole WebAssembly
  // instance, is thrown away after this one run. (Freeing a runtime that an interrupted script
  // left objects in would trip QuickJS's leak assertion and abort.)
  {
    // console.* appends to a capped buffer; the text is shown when the step fails.
    const consoleObj = vm.newObject();
    const tooMuch = () => {
      outputExceeded = true;
      return { error: vm.newError({ name: 'RangeError', message: `console output passed ${limits.maxOutputBytes} bytes` }) };
    };
    const write = vm.newFunction('log', (...args) => {
      // A string longer than the cap is refused before it is copied out of the engine.
      for (const a of args) {
        if (vm.typeof(a) !== 'string') continue;
        const length = vm.getProp(a, 'length');
        const tooLong = vm.getNumber(length) > limits.maxOutputBytes;
        length.dispose();
        if (tooLong) return tooMuch();
      }
      const line = `${args.map((a) => (vm.typeof(a) === 'string' ? vm.getString(a) : safeString(vm.dump(a)))).join(' ')}\n`;
      logBytes += Buffer.byteLength(line);
      if (logBytes > limits.maxOutputBytes) return tooMuch();
      log += line;
      return vm.undefined;
    });
    for (const name of ['log', 'info', 'warn', 'error', 'debug']) vm.setProp(consoleObj, name, write);
    vm.setProp(vm.global, 'console', consoleObj);
    write.dispose();
    consoleObj.dispose();

    // Helpers compiled before the script runs, so that the script cannot replace what they use.
    const helpers = vm.unwrapResult(
      vm.evalCode(`(() => {
        'use strict';
        const AsyncFunction = (async () => {}).constructor;
        const parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray;
        return {
          compile: (body) => new AsyncFunction('params', body),
          start: (fn, json) => fn.call(undefined, parse(json)),
          serialize: (value) => {
            if (value === undefined || value === null) return '{}';
            if (typeof value !== 'object' || isArray(value))
              throw new TypeError('the script must return an object whose keys become variables, not ' + (isArray(value) ? 'an array' : typeof value));
            const json = stringify(value);
            if (typeof json !== 'string') throw new TypeError('the returned value cannot be written as JSON');
            return json;
          },
        };
      })()`),
    );
    const compile = vm.getProp(helpers, 'compile');
    const start = vm.getProp(helpers, 'start');
    const serialize = vm.getProp(helpers, 'serialize');
    helpers.dispose();

    const body = vm.newString(script);
    const fn = call(compile, 'compile', body);
    body.dispose();
    const json = vm.newString(paramsJson);
    const promise = call(start, 'error', fn, json);
    json.dispose();
    fn.dispose();

    // Run the promise jobs until the script's promise settles. No timers or I/O exist here, so
    // when no job is left and it is still pending, nothing can ever settle it.
    for (;;) {
      const state = vm.getPromiseState(promise);
      if (interrupted) throw new Limit('timeout', 'interrupted');
      if (state.type === 'fulfilled') {
        const text = call(serialize, 'result', state.value);
        state.value.dispose();
        const variablesJson = vm.getString(text);
        text.dispose();
        if (logBytes + Buffer.byteLength(variablesJson) > limits.maxOutputBytes) throw new Limit('output', 'the result is too large');
        return { ok: true, variablesJson, log };
      }
      if (state.type === 'rejected') {
        throw failure(state.error, 'error');
      }
      const jobs = runtime.executePendingJobs(-1);
      if (jobs.error) {
        throw failure(jobs.error, 'error');
      }
      if (jobs.value === 0) {
        // An interrupted job rejects its own promise instead of stopping the chain: report the
        // deadline, not the hang it caused.
        if (interrupted) throw new Limit('timeout', 'interrupted');
        throw new Limit('pending', 'the script awaits something that never settles (there are no timers or I/O in the sandbox)');
      }
    }
  }
}

/** @param {unknown} v */
function safeString(v) {
  try {
    return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

/** @param {import('node:worker_threads').MessagePort} port @param {number} maxStackBytes */
async function serveValidation(port, maxStackBytes) {
  let QuickJS = await boundedQuickJS(VALIDATE_MEMORY_MB);
  port.on('message', (/** @type {{ script: string, flag: Int32Array }} */ { script, flag }) => {
    let problem;
    let fresh = false;
    try {
      problem = compileProblem(QuickJS, script, maxStackBytes);
    } catch (e) {
      problem = `the syntax check failed: ${e instanceof Error ? e.message : String(e)}`;
      fresh = true;
    }
    port.postMessage({ problem });
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    // WebAssembly memory never shrinks: after a failure inside the engine, or once a large script
    // has grown the memory, continue on a new module.
    if (fresh || QuickJS.getWasmMemory().buffer.byteLength > BASE_PAGES * 65536 * 2) {
      void boundedQuickJS(VALIDATE_MEMORY_MB).then((q) => {
        QuickJS = q;
      });
    }
  });
}

/**
 * Compiles the body with QuickJS's AsyncFunction constructor, the parser that runs it, without
 * calling it: nothing of the script executes. Returns the syntax error, or null.
 * @param {import('quickjs-emscripten').QuickJSWASMModule} QuickJS @param {string} script @param {number} maxStackBytes
 */
function compileProblem(QuickJS, script, maxStackBytes) {
  const runtime = QuickJS.newRuntime();
  runtime.setMemoryLimit(VALIDATE_MEMORY_MB * 1024 * 1024);
  runtime.setMaxStackSize(maxStackBytes);
  const deadline = Date.now() + 2_000;
  runtime.setInterruptHandler(() => Date.now() > deadline);
  const vm = runtime.newContext();
  const compile = vm.unwrapResult(vm.evalCode("(body) => { new (async () => {}).constructor('params', body); }"));
  const body = vm.newString(script);
  const r = vm.callFunction(compile, vm.undefined, body);
  body.dispose();
  compile.dispose();
  let problem = null;
  if (r.error) {
    const e = vm.dump(r.error);
    problem = e && typeof e === 'object' ? `${e.name ?? 'Error'}: ${e.message ?? ''}` : String(e);
  }
  (r.error ?? r.value).dispose();
  vm.dispose();
  runtime.dispose();
  return problem;
}

if (workerData.mode === 'validate') {
  void serveValidation(workerData.port, workerData.maxStackBytes);
} else {
  run(workerData).then(
    (result) => reply({ ...result }),
    (e) => reply({ ok: false, kind: e instanceof Limit ? e.kind : 'error', error: e instanceof Error ? e.message : String(e), log }),
  );
}
