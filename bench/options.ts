/** The benchmark's command line: targets, phases and limits (see bench/run.ts and docs/benchmarks.md). */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseExperiments } from './experiments.ts';
import { postgres3Target, postgresTarget } from './targets/postgres.ts';
import { sqliteTarget } from './targets/sqlite.ts';
import type { Target } from './targets/target.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export const TARGETS: Target[] = [sqliteTarget, postgresTarget, postgres3Target];

export const PHASES = ['raw', 'store', 'service', 'http', 'enroll', 'scale', 'ocsp', 'acme'] as const;
export type Phase = (typeof PHASES)[number];

/** No phase runs longer than this, whatever the options say. */
export const HARD_STOP_MS = 60_000;

export interface Options {
  targets: Target[];
  phases: Phase[];
  durationMs: number;
  warmupMs: number;
  clients: number;
  instances: number;
  depth: number | 'auto';
  batch: number;
  profileDir: string | null;
  breakdown: boolean;
  experiments: string[];
  out: string;
  strict: boolean;
  /** Instance counts the scale phase builds and measures at (bench/scale.ts). */
  sizes: number[];
  /** Scale phase, SQLite: keep each built history here and start later runs from a copy of it. */
  scaleCache: string | null;
  /** Before each phase, wait up to this long for the machine to be quiet (other load < QUIET_CORES). */
  quietWaitMs: number;
}

/** Other processes' CPU above this (in cores) during a phase makes its figures suspect. */
export const QUIET_CORES = 0.25;

export const USAGE = `Usage: npm run bench -- [options]
  --only LIST        comma-separated target names (${TARGETS.map((t) => t.name).join(', ')}) and/or phases (${PHASES.join(', ')})
  --duration S       measured seconds per phase (default 10)
  --warmup S         HTTP warm-up seconds, not measured (default 2)
  --clients N        concurrent HTTP clients, one approver identity each (default 32)
  --instances N      instances prepared for the HTTP phase (default 8000)
  --depth N|auto     signals per instance in the single-threaded baselines; auto = the HTTP phase's mean (default auto)
  --batch N          instances per untimed batch in the baselines (default 2000)
  --cpu-prof [DIR]   CPU-profile the server during the measured HTTP window and print a summary
  --breakdown        instrument the server: time per SQL statement and store call during the HTTP window
  --sizes LIST       scale phase: instance counts to build and measure at, e.g. 10000,100000,1000000 (default 2000)
  --scale-cache DIR  scale phase, SQLite: keep each built history in DIR and measure later runs on a copy of it
                     (a 1M history takes about half an hour to build; delete DIR to rebuild)
  --experiment LIST  try proposed changes (bench/experiments.ts); bg-checkpoint and no-preread are shipped now;
                     inline-wal-flush measures the baseline of the WAL flush in the thread pool
  --out FILE         results JSON (default bench/results/latest.json)
  --quiet-wait S     before each phase wait up to S s for the machine to be idle (default 30; 0 = do not wait)
  --strict           exit 1 when a goal is missed (the run always exits 1 when it is invalid)`;

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    targets: TARGETS,
    phases: [...PHASES],
    durationMs: 10_000,
    warmupMs: 2_000,
    clients: 32,
    instances: 8000,
    depth: 'auto',
    batch: 2000,
    profileDir: null,
    breakdown: false,
    experiments: [],
    out: join(HERE, 'results', 'latest.json'),
    strict: false,
    quietWaitMs: 30_000,
    sizes: [2000],
    scaleCache: null,
  };
  const num = (v: string | undefined, name: string, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--only': {
        const words = (value() ?? '')
          .split(',')
          .map((w) => w.trim().toLowerCase())
          .filter(Boolean);
        const unknown = words.filter((w) => !TARGETS.some((t) => t.name === w) && !(PHASES as readonly string[]).includes(w));
        if (unknown.length || !words.length) throw new Error(`--only: unknown '${unknown.join(',')}'; use ${[...TARGETS.map((t) => t.name), ...PHASES].join(', ')}`);
        const ts = TARGETS.filter((t) => words.includes(t.name));
        const ps = PHASES.filter((p) => words.includes(p));
        if (ts.length) o.targets = ts;
        if (ps.length) o.phases = ps;
        break;
      }
      case '--duration':
        o.durationMs = num(value(), '--duration', 1, 50) * 1000;
        break;
      case '--warmup':
        o.warmupMs = num(value(), '--warmup', 0, 10) * 1000;
        break;
      case '--clients':
        o.clients = num(value(), '--clients', 1, 256);
        break;
      case '--instances':
        o.instances = num(value(), '--instances', 1, 200_000);
        break;
      case '--depth': {
        const v = value();
        o.depth = v === 'auto' ? 'auto' : num(v, '--depth', 1, 256);
        break;
      }
      case '--batch':
        o.batch = num(value(), '--batch', 1, 100_000);
        break;
      case '--cpu-prof': {
        const next = inline ?? (argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i] : undefined);
        o.profileDir = next ?? mkdtempSync(join(os.tmpdir(), 'countersign-bench-prof-'));
        break;
      }
      case '--breakdown':
        o.breakdown = true;
        break;
      case '--sizes':
        o.sizes = (value() ?? '').split(',').map((x) => num(x.trim(), '--sizes', 100, 10_000_000));
        break;
      case '--scale-cache':
        o.scaleCache = value() ?? null;
        break;
      case '--experiment':
        o.experiments = parseExperiments(value());
        break;
      case '--out':
        o.out = value()!;
        break;
      case '--quiet-wait':
        o.quietWaitMs = num(value(), '--quiet-wait', 0, 600) * 1000;
        break;
      case '--strict':
        o.strict = true;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        return process.exit(0);
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.warmupMs + o.durationMs > HARD_STOP_MS - 5_000) throw new Error('--warmup + --duration must stay under 55 s (phases stop hard at 60 s)');
  return o;
}
