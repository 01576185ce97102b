import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/*
 * Whole-machine CPU use from /proc/stat (Linux), so a run can say how much of the machine other
 * processes took while it measured. On a shared box this is the first thing to check when
 * figures move between runs.
 */

export interface CpuSnapshot {
  /** Busy CPU seconds across all cores (user+nice+system+irq+softirq+steal). */
  busyS: number;
  at: number;
}

const TICK = 100; // USER_HZ on Linux

export function cpuSnapshot(): CpuSnapshot | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
    return { busyS: (user + nice + system + irq + softirq + (steal ?? 0)) / TICK, at: performance.now() };
  } catch {
    return null;
  }
}

/** Average busy cores over the interval (all processes). */
export function busyCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b || b.at <= a.at) return null;
  return (b.busyS - a.busyS) / ((b.at - a.at) / 1000);
}

/** Samples the machine for `ms` and returns busy cores, or null off Linux. */
export async function sampleBusy(ms: number): Promise<number | null> {
  const a = cpuSnapshot();
  await new Promise((r) => setTimeout(r, ms));
  return busyCores(a, cpuSnapshot());
}

/**
 * Waits (at most maxWaitMs) until the machine is quiet: busy below `threshold` cores over a
 * one-second sample. Returns the last sample.
 */
export async function waitForQuiet(threshold: number, maxWaitMs: number): Promise<number | null> {
  const until = performance.now() + maxWaitMs;
  let busy = await sampleBusy(1000);
  while (busy !== null && busy > threshold && performance.now() < until) busy = await sampleBusy(1000);
  return busy;
}
