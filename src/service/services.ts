import { randomUUID } from 'node:crypto';
import { DEFAULT_RESULT_BOUNDS, type JsonBounds } from '../domain/bounded-json.ts';
import type { StepRegistry } from '../domain/step-registry.ts';
import type { Store } from '../store/store.ts';

export interface ServiceConfig {
  /** How often the reconciler sweeps (ms). */
  reconcileIntervalMs: number;
  /** How long a verified credential stays cached (ms). */
  authCacheTtlMs: number;
  /** Upper bound on any wait (ms) when a step sets no timeout of its own. */
  maxWaitMs: number;
  /** How long an Idempotency-Key's first answer is kept for replay (ms). */
  idempotencyTtlMs: number;
  /** Bounds on what an automatic step's result may put into an instance. */
  resultBounds: JsonBounds;
}

/** Everything the HTTP shell and the background workers need; built once in src/cli. */
export interface Services {
  store: Store;
  registry: StepRegistry;
  config: ServiceConfig;
  /** Injectable clock and ids keep the core testable. */
  now: () => string;
  newId: () => string;
}

export const defaultServiceConfig: ServiceConfig = {
  reconcileIntervalMs: 5_000,
  authCacheTtlMs: 60_000,
  maxWaitMs: 30 * 24 * 3600_000,
  idempotencyTtlMs: 24 * 3600_000,
  resultBounds: DEFAULT_RESULT_BOUNDS,
};

export function makeServices(store: Store, registry: StepRegistry, config: Partial<ServiceConfig> = {}): Services {
  return {
    store,
    registry,
    config: { ...defaultServiceConfig, ...config },
    now: () => new Date().toISOString(),
    newId: () => randomUUID(),
  };
}
