'use strict';
/*
 * The child side of the Script step (src/steps/script.ts); plain JavaScript so that node runs it
 * without a loader. It is started as
 *
 *   node --experimental-permission|--permission --allow-fs-read=<this file> \
 *        --max-old-space-size=<MB> --no-warnings <this file>
 *
 * with an empty environment, so Node's permission model denies every file read or write except
 * this file, child processes and worker threads. Node 20 and 22 have no network permission, so
 * before the script runs this guard removes the ways in that a script can reach without native
 * code: the networking, process and module-loading built-ins are replaced by functions that
 * throw (for require() and import() alike), fetch/WebSocket/EventSource are deleted, and
 * process loses binding, dlopen, kill and friends. The script is then compiled with the
 * AsyncFunction constructor: it sees no require, module or closure of this file.
 *
 * Protocol: stdin is one JSON document {"nonce": "...", "script": "...", "params": {...}}.
 * The answer is one stdout line "<nonce> <json>", json being {"ok": true, "variables": {...}}
 * or {"ok": false, "error": "..."}. The nonce is never visible to the script, so text the
 * script prints cannot pose as the answer. console.* goes to stderr.
 */

const stdout = process.stdout;
const stderr = process.stderr;
const stdin = process.stdin;
const exit = process.reallyExit ? process.reallyExit.bind(process) : process.exit.bind(process);
const onProcess = process.on.bind(process);
const format = require('node:util').format;
const Module = require('node:module');

let nonce = null;
let answered = false;

function answer(message) {
  if (answered) return;
  answered = true;
  let line;
  try {
    line = JSON.stringify(message);
  } catch (e) {
    line = JSON.stringify({ ok: false, error: 'the result cannot be written as JSON: ' + e.message });
  }
  if (nonce === null) {
    exit(70);
    return;
  }
  stdout.write(nonce + ' ' + line + '\n', () => exit(0));
}

function errorText(e) {
  if (e && typeof e === 'object' && typeof e.message === 'string') return (e.name && e.name !== 'Error' ? e.name + ': ' : '') + e.message;
  try {
    return 'threw ' + String(e);
  } catch {
    return 'threw a value that cannot be shown';
  }
}

onProcess('uncaughtException', (e) => answer({ ok: false, error: errorText(e) }));
onProcess('unhandledRejection', (e) => answer({ ok: false, error: errorText(e) }));

const DENIED = [
  'net', 'http', 'https', 'http2', 'tls', 'dgram', 'dns', 'dns/promises', 'child_process', 'worker_threads', 'cluster',
  'inspector', 'inspector/promises', 'vm', 'v8', 'repl', 'module', 'fs', 'fs/promises', 'trace_events', 'wasi',
  'diagnostics_channel', 'tty', 'async_hooks',
];

function denied(name) {
  return function () {
    throw new Error("'" + name + "' is not available to Countersign scripts");
  };
}

const isPlain = (v) => {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

/** Replaces every function, accessor and non-plain object a module exports by a thrower. */
function neuter(obj, name, depth) {
  for (const key of Reflect.ownKeys(obj)) {
    if (typeof obj === 'function' && (key === 'prototype' || key === 'length' || key === 'name')) continue;
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (!d) continue;
    let replacement;
    if ('value' in d) {
      const v = d.value;
      if (typeof v === 'function') replacement = denied(name);
      else if (v !== null && typeof v === 'object') {
        if (Array.isArray(v)) continue;
        if (isPlain(v) && depth < 2) {
          neuter(v, name, depth + 1);
          continue;
        }
        replacement = denied(name);
      } else continue;
    } else replacement = denied(name);
    try {
      Object.defineProperty(obj, key, { value: replacement, writable: false, configurable: false, enumerable: d.enumerable });
    } catch {
      try {
        obj[key] = replacement;
      } catch {
        /* leave it */
      }
    }
  }
}

function guard() {
  const sync = Module.syncBuiltinESMExports;
  // Load every module first: neutering 'module' disables require() itself.
  const modules = [];
  for (const name of DENIED) {
    try {
      modules.push([name, require('node:' + name)]);
    } catch {
      /* not in this node version */
    }
  }
  for (const [name, m] of modules) neuter(m, name, 0);
  // import() of a built-in reads its ESM namespace: make it show the neutered exports too.
  try {
    sync();
  } catch {
    /* older nodes */
  }
  for (const key of [
    'binding', '_linkedBinding', 'dlopen', 'kill', '_kill', 'chdir', 'setuid', 'setgid', 'seteuid', 'setegid', 'setgroups', 'initgroups',
    '_debugProcess', '_debugEnd', '_startProfilerIdleNotifier', '_stopProfilerIdleNotifier', 'openStdin', 'execve', 'loadEnvFile',
    'getBuiltinModule', 'setSourceMapsEnabled', 'reallyExit', 'abort', '_rawDebug', 'report', 'mainModule', 'stdin', 'stdout', 'stderr',
    '_getActiveHandles', '_getActiveRequests', 'channel', 'send', 'disconnect',
  ]) {
    try {
      Object.defineProperty(process, key, { value: denied('process.' + key), writable: false, configurable: false });
    } catch {
      /* not there */
    }
  }
  for (const key of ['fetch', 'WebSocket', 'EventSource', 'process', 'require', 'module']) {
    try {
      delete globalThis[key];
    } catch {
      /* not there */
    }
  }
  const log = (...args) => stderr.write(format(...args) + '\n');
  for (const k of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir']) console[k] = log;
}

function run(input) {
  nonce = typeof input.nonce === 'string' ? input.nonce : null;
  const script = typeof input.script === 'string' ? input.script : '';
  const params = input.params && typeof input.params === 'object' ? input.params : {};
  guard();
  const AsyncFunction = (async () => {}).constructor;
  let fn;
  try {
    fn = new AsyncFunction('params', script);
  } catch (e) {
    answer({ ok: false, error: 'the script does not compile: ' + errorText(e) });
    return;
  }
  Promise.resolve()
    .then(() => fn.call(undefined, params))
    .then(
      (result) => {
        if (result === undefined || result === null) return answer({ ok: true, variables: {} });
        if (typeof result !== 'object' || Array.isArray(result))
          return answer({ ok: false, error: 'the script must return an object whose keys become variables, not ' + (Array.isArray(result) ? 'an array' : typeof result) });
        let variables;
        try {
          variables = JSON.parse(JSON.stringify(result));
        } catch (e) {
          return answer({ ok: false, error: 'the returned object cannot be written as JSON: ' + errorText(e) });
        }
        answer({ ok: true, variables });
      },
      (e) => answer({ ok: false, error: errorText(e) }),
    );
}

const chunks = [];
stdin.on('data', (c) => chunks.push(c));
stdin.on('end', () => {
  let input;
  try {
    input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    exit(65);
    return;
  }
  run(input);
});
