import { performance } from 'node:perf_hooks';
import { Samples, summarise } from './stats.ts';
import type { LoopOptions, LoopResult } from './targets/target.ts';

/**
 * The single-threaded baseline loop shared by the raw and in-process lines. Instances come in
 * untimed batches; within a batch, pass p sends approver p's signal to every instance, so every
 * instance ends with `depth` signals and no approver signals an instance twice.
 */
export async function timedBatches(
  o: LoopOptions,
  createBatch: (count: number) => Promise<string[]> | string[],
  signal: (instanceId: string, approver: number) => Promise<unknown> | unknown,
  isAsync: boolean,
): Promise<LoopResult> {
  if (o.depth < 1 || o.depth > o.approvers) throw new Error(`depth must be 1..${o.approvers}; it is ${o.depth}`);
  const wall0 = performance.now();
  const hardStop = wall0 + o.hardStopMs;
  const lat = new Samples(5_000_000);
  let timed = 0;
  let signals = 0;
  let done = false;
  while (!done) {
    if (performance.now() >= hardStop) break;
    const ids = await createBatch(o.batch);
    const t0 = performance.now();
    let last = t0;
    outer: for (let pass = 0; pass < o.depth; pass++) {
      for (const id of ids) {
        if (isAsync) await signal(id, pass);
        else signal(id, pass);
        const now = performance.now();
        lat.push(now - last);
        last = now;
        signals++;
        if (timed + (now - t0) >= o.durationMs || now >= hardStop) {
          done = true;
          break outer;
        }
      }
    }
    timed += last - t0;
  }
  return { rate: signals / (timed / 1000), signals, timedMs: timed, wallMs: performance.now() - wall0, depth: o.depth, latencyMs: summarise(lat.values()) };
}
