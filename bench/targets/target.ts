import type { LatencySummary } from '../stats.ts';

/*
 * A storage target the benchmark can run against. SQLite is the only one today; a PostgreSQL
 * target (one node, or three server nodes on one database) implements the same interface:
 * start() spawns its server process(es) with BENCH_DATABASE_URL set (see bench/server-process.ts)
 * and returns every node's URL (clients are spread over them); rawBaseline() runs the same
 * per-signal transaction directly against the database with its driver.
 */

export interface LoopOptions {
  /** Timed duration (ms); instance creation between batches is not timed. */
  durationMs: number;
  /** Wall-clock hard stop for the whole phase (ms), creation included. */
  hardStopMs: number;
  /** Approver identities; each instance gets at most one signal per approver. */
  approvers: number;
  /** Signals per instance (the instance's signals array grows to this length). */
  depth: number;
  /** Instances created per (untimed) batch. */
  batch: number;
  /** Proposed changes to try (bench/experiments.ts); empty = the shipped code. */
  experiments: string[];
}

export interface LoopResult {
  /** Signal transactions per second of timed work. */
  rate: number;
  signals: number;
  timedMs: number;
  wallMs: number;
  depth: number;
  /** Per-signal latency of the single-threaded loop. */
  latencyMs: LatencySummary;
  notes?: string;
}

export interface PrepareSpec {
  approvers: number;
  instances: number;
  password: string;
}

export interface Prepared {
  approvers: string[];
  instanceIds: string[];
  ms: number;
}

export interface NodeUsage {
  cpuMs: number;
  /** Event-loop utilisation of the node's main thread over the window (0..1). */
  elu: number;
  /** With StartOptions.breakdown: synchronous time per statement / store call over the window. */
  breakdown?: Record<string, { count: number; ms: number }>;
}

export interface StartedTarget {
  /** One base URL per server node. */
  urls: string[];
  /** Creates the workload (identities, role, definition, instances) through one node. */
  prepare(spec: PrepareSpec): Promise<Prepared>;
  /** Marks the start/end of the measured window; returns per-node usage over it at the end. */
  markStart(): Promise<void>;
  markEnd(): Promise<NodeUsage[]>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** When set, each server node writes a CPU profile of the measured window into this directory. */
  profileDir?: string;
  /** Instrument the server (timing per SQL statement and store call; costs a little throughput). */
  breakdown?: boolean;
  /** Proposed changes to try (bench/experiments.ts); a target ignores those it does not know. */
  experiments?: string[];
}

export interface Target {
  name: string;
  description: string;
  /** Table label of the raw line, e.g. 'raw DB (better-sqlite3, 1 thread)'. */
  rawLabel?: string;
  start(opts: StartOptions): Promise<StartedTarget>;
  /** The same writes as one signal, straight to the database: the ceiling the server is compared with. */
  rawBaseline(o: LoopOptions): Promise<LoopResult>;
  /** Optional in-process lines: store + engine (mutateInstance + applySignal), and the whole service call. */
  engineBaseline?(o: LoopOptions, level: 'store' | 'service'): Promise<LoopResult>;
  /** Free-form facts about the target (e.g. SQLite version, pragmas), recorded in the results. */
  info?(): Promise<Record<string, unknown>>;
}
