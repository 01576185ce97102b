/*
 * Experiments: the changes proposed in docs/benchmarks.md, applied from the bench (monkey-patching
 * and private fields) so their effect can be measured before anyone edits src/. Off by default;
 * a run with experiments does NOT measure the shipped code and says so.
 *
 *   bg-checkpoint  WAL checkpoints move off the request thread: wal_autocheckpoint=0 on the
 *                  request connection, and a worker thread with its own connection runs
 *                  PRAGMA wal_checkpoint(PASSIVE) every 20 ms (its fsyncs no longer stall the
 *                  event loop). Applied to the raw and in-process lines too, so the comparison
 *                  stays like for like.
 *   no-preread     WorkflowService.signal skips its getInstance() before the transaction and
 *                  takes the (cached, immutable) definition version inside it.
 *   inline-wal-flush  the group commit flushes the WAL inside COMMIT (synchronous=FULL) as before
 *                  wal-sync.ts, instead of in the thread pool: the baseline of that change.
 */
import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { applySignal, type SignalResult } from '../src/domain/engine.ts';
import type { DefinitionVersion, JsonObject } from '../src/domain/types.ts';
import type { Principal } from '../src/security/principal.ts';
import type { Services } from '../src/service/services.ts';
import { actorOf, WorkflowService } from '../src/service/workflow.ts';

export const EXPERIMENTS = ['bg-checkpoint', 'no-preread', 'inline-wal-flush'] as const;
export type Experiment = (typeof EXPERIMENTS)[number];

export const parseExperiments = (s: string | undefined): Experiment[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      if (!(EXPERIMENTS as readonly string[]).includes(x)) throw new Error(`unknown experiment '${x}'; known: ${EXPERIMENTS.join(', ')}`);
      return x as Experiment;
    });

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
let stop = false;
parentPort.on('message', (m) => { if (m === 'stop') stop = true; });
const tick = () => {
  if (stop) { db.close(); parentPort.postMessage('stopped'); return; }
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage(String(e)); }
  setTimeout(tick, workerData.intervalMs);
};
tick();
`;

/** Turns automatic checkpoints off on `conn` and checkpoints `file` from a worker thread instead. */
export function backgroundCheckpointer(conn: Database.Database, file: string, intervalMs = 20): { stop(): Promise<void> } {
  conn.pragma('wal_autocheckpoint = 0');
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, module, intervalMs } });
  worker.unref();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5_000);
        worker.on('message', (m) => {
          if (m === 'stopped') {
            clearTimeout(timer);
            void worker.terminate().then(() => resolve());
          }
        });
        worker.postMessage('stop');
      }),
  };
}

/** The better-sqlite3 connection inside a SqliteStore (private field). */
export const connectionOf = (store: unknown): Database.Database => (store as { conn: Database.Database }).conn;

/** The group commit without its WalSync: each group's COMMIT flushes in line (synchronous=FULL). */
export function inlineWalFlush(store: unknown): void {
  const group = (store as { group?: { wal: unknown } }).group;
  if (group) group.wal = null;
}

const NEED_VERSION = Symbol('need version');

/** WorkflowService.signal without the read before the transaction. Patches the prototype; returns the undo. */
export function patchSignalWithoutPreread(): () => void {
  const original = WorkflowService.prototype.signal;
  WorkflowService.prototype.signal = async function (this: WorkflowService, id: string, key: string, data: JsonObject, principal: Principal): Promise<SignalResult> {
    const self = this as unknown as { s: Services; versions: Map<string, DefinitionVersion> };
    const ctx = { now: self.s.now(), registry: self.s.registry };
    const actor = actorOf(principal);
    let missing: { definitionId: string; version: number } | null = null;
    const attempt = () =>
      self.s.store.mutateInstance(id, (current) => {
        const version = self.versions.get(`${current.definitionId}:${current.definitionVersion}`);
        if (!version) {
          missing = { definitionId: current.definitionId, version: current.definitionVersion };
          throw NEED_VERSION;
        }
        const r = applySignal(current, version, { key, data, actor }, ctx);
        return { transition: r, result: r };
      });
    let result: SignalResult;
    try {
      result = await attempt();
    } catch (e) {
      if (e !== NEED_VERSION || !missing) throw e;
      const m: { definitionId: string; version: number } = missing;
      await this.version(m.definitionId, m.version); // loads and caches the frozen version
      result = await attempt();
    }
    this.effectSink(result.effects);
    return result;
  };
  return () => {
    WorkflowService.prototype.signal = original;
  };
}
