/** Small statistics helpers for the benchmark (no dependencies). */

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of latencies in milliseconds. */
export function summarise(samples: Float64Array): LatencySummary {
  const n = samples.length;
  if (n === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { count: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]!, mean: sum / n };
}

/** A growable Float64 buffer with a hard cap, so long runs stay bounded in memory. */
export class Samples {
  private buf: Float64Array;
  private n = 0;
  dropped = 0;
  constructor(
    private readonly cap: number,
    initial = 4096,
  ) {
    this.buf = new Float64Array(Math.min(initial, cap));
  }
  push(v: number): void {
    if (this.n === this.buf.length) {
      if (this.n >= this.cap) {
        this.dropped++;
        return;
      }
      const next = new Float64Array(Math.min(this.cap, this.buf.length * 2));
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  get length(): number {
    return this.n;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
}

/** Concatenates several sample buffers. */
export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);
