import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySignal } from '../src/domain/engine.ts';
import type { JsonObject } from '../src/domain/types.ts';
import { actorOf, WorkflowService } from '../src/service/workflow.ts';
import { makeServices } from '../src/service/services.ts';
import { defaultRegistry } from '../src/steps/index.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { backgroundCheckpointer, connectionOf, patchSignalWithoutPreread } from './experiments.ts';
import { timedBatches } from './loop.ts';
import { SIGNAL_BODY, SIGNAL_KEY, prepareWorkload, startInstances } from './setup.ts';
import type { LoopOptions, LoopResult } from './targets/target.ts';

/**
 * The in-process lines, on a fresh SQLite file, no HTTP:
 *  - 'store':   SqliteStore.mutateInstance(id, cur => applySignal(...)) - the transaction the server runs;
 *  - 'service': WorkflowService.signal(...) - what the route handler calls (adds a getInstance read).
 */
export async function sqliteEngineBaseline(o: LoopOptions, level: 'store' | 'service'): Promise<LoopResult> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-engine-'));
  const store = SqliteStore.open(join(dir, 'engine.db'));
  const checkpointer = o.experiments.includes('bg-checkpoint') ? backgroundCheckpointer(connectionOf(store), join(dir, 'engine.db')) : null;
  const unpatch = level === 'service' && o.experiments.includes('no-preread') ? patchSignalWithoutPreread() : null;
  try {
    const services = makeServices(store, defaultRegistry(), { reconcileIntervalMs: 60_000, authCacheTtlMs: 60_000 });
    const wf = new WorkflowService(services);
    const w = await prepareWorkload(store, wf, { approvers: o.approvers, password: null });
    const version = await wf.version(w.definitionId, 1);
    const actors = w.approvers.map((a) => actorOf(a.principal));
    // Like the route: the body arrives as JSON text and is parsed per request.
    const data = (): JsonObject => (JSON.parse(SIGNAL_BODY) as { Data: JsonObject }).Data;
    const signal =
      level === 'store'
        ? (id: string, p: number) => {
            const ctx = { now: services.now(), registry: services.registry };
            return store.mutateInstance(id, (current) => {
              const r = applySignal(current, version, { key: SIGNAL_KEY, data: data(), actor: actors[p]! }, ctx);
              return { transition: r, result: r };
            });
          }
        : (id: string, p: number) => wf.signal(id, SIGNAL_KEY, data(), w.approvers[p]!.principal);
    return await timedBatches(o, (n) => startInstances(wf, w, n), signal, true);
  } finally {
    unpatch?.();
    await checkpointer?.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
