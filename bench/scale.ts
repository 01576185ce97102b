/*
 * The scale phase of `npm run bench` (issue 16): does the cost of a request depend on history?
 * For each store and each size (--sizes, default CI-sized), one server process (bench/server-process.ts)
 * is given a history of `size` instances through the workflow service (90 % Complete with full
 * histories, 10 % waiting; bench/scale-setup.ts), then measured:
 *   - starts/s (8 clients, POST /Workflow/Instances) and signals/s (--clients, the signal load of
 *     the other phases, bench/http-load.ts);
 *   - p50/p99 of reads, one client: AssignedToMe, /My, the default list (first and a deep page,
 *     offset and keyset), Status = Suspended by StartDate descending, a -contains filter, and
 *     GET of an instance with its history;
 *   - the server's RSS.
 * Beside it, on SQLite, the floor (bench/floor-server.ts): a minimal Fastify server doing the same
 * edge work and the raw signal transaction at the same durability, driven by the same load
 * generator in the same run. Ratios: each size's rates against the smallest size's, and the
 * HTTP signal rate against the floor's.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../src/security/password.ts';
import { ServerChild } from './child.ts';
import { runHttpLoad } from './http-load.ts';
import { SIGNAL_BODY } from './setup.ts';
import { round, summarise, type LatencySummary } from './stats.ts';
import { freshSchema } from './targets/postgres.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'bench-approver-password';
const ADMIN = `Basic ${Buffer.from('admin:bench-admin-password').toString('base64')}`;
const START_CLIENTS = 8;
/** Requests per read measurement (one client, back to back). */
const READS = 200;

export interface ScaleOptions {
  stores: ('sqlite' | 'postgres')[];
  sizes: number[];
  clients: number;
  durationMs: number;
  warmupMs: number;
  /** SQLite: a folder keeping each built history; later runs measure on a copy (see `history`). */
  cache?: string | null;
}

export interface SizeResult {
  store: string;
  size: number;
  populateMs: number;
  startsPerSecond: number;
  startLatencyMs: LatencySummary;
  signalsPerSecond: number;
  signalLatencyMs: LatencySummary;
  reads: Record<string, LatencySummary>;
  rssMiB: number;
}

export interface ScaleResult {
  options: ScaleOptions;
  sizes: SizeResult[];
  floor: { signalsPerSecond: number; signalLatencyMs: LatencySummary } | null;
  ratios: Record<string, number | null>;
}

const headers = (auth: string) => ({ 'x-keyfactor-requested-with': 'APIClient', accept: 'application/json', 'content-type': 'application/json', authorization: auth });

async function timed(fn: () => Promise<Response>): Promise<{ ms: number; res: Response }> {
  const t0 = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  return { ms: performance.now() - t0, res };
}

/** One client, back to back; fails on anything but 200. */
async function readLatency(url: string, auth: string): Promise<LatencySummary> {
  const samples = new Float64Array(READS);
  for (let i = -5; i < READS; i++) {
    const { ms, res } = await timed(() => fetch(url, { headers: headers(auth) }));
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
    if (i >= 0) samples[i] = ms;
  }
  return summarise(samples);
}

async function startLoad(base: string, definitionId: string, durationMs: number): Promise<{ rate: number; latency: LatencySummary }> {
  const lat: number[] = [];
  const end = performance.now() + durationMs;
  const body = JSON.stringify({ DefinitionId: definitionId, Title: 'bench start', InitialData: { cn: 'www.example.com' } });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: START_CLIENTS }, async () => {
      while (performance.now() < end) {
        const { ms, res } = await timed(() => fetch(`${base}/KeyfactorAPI/Workflow/Instances`, { method: 'POST', headers: headers(ADMIN), body }));
        if (res.status !== 201) throw new Error(`start: ${res.status}`);
        lat.push(ms);
      }
    }),
  );
  return { rate: lat.length / ((performance.now() - t0) / 1000), latency: summarise(Float64Array.from(lat)) };
}

/** What a built history holds: the signal load's approvers and instances, and the populated part. */
interface History {
  prepared: { approvers: string[]; instanceIds: string[]; definitionId: string };
  pop: { ms: number; requester: string; sampleId: string };
}

async function build(child: ServerChild, size: number, label: string, approvers: number): Promise<History> {
  // Enough waiting instances for the signal load at any plausible rate.
  const prepared = await child.request({ cmd: 'prepare', approvers, instances: 6000, password: PASSWORD }, 'prepared', 600_000);
  process.stdout.write(`  ${label}: populating ... `);
  const pop = await child.request({ cmd: 'populate', count: size, password: PASSWORD }, 'populated', 24 * 3600_000);
  console.log(`${Math.round(pop.ms / 1000)} s`);
  return {
    prepared: { approvers: prepared.approvers, instanceIds: prepared.instanceIds, definitionId: prepared.definitionId },
    pop: { ms: pop.ms, requester: pop.requester, sampleId: pop.sampleId },
  };
}

/**
 * A server on a history of `size` instances. Without a cache it is built in a fresh database.
 * With one (SQLite), it is built once into the cache folder (server stopped, so the file is
 * whole), and every measurement runs on a copy of that file: the same starting state each time,
 * with whatever migrations the code under test adds applied on opening.
 */
async function serverWithHistory(store: 'sqlite' | 'postgres', size: number, o: ScaleOptions): Promise<{ child: ServerChild; history: History; cleanup: () => Promise<void> }> {
  const label = `${store} ${size}`;
  if (store === 'sqlite' && o.cache) {
    mkdirSync(o.cache, { recursive: true });
    const file = join(o.cache, `sqlite-${size}.db`);
    const sidecar = `${file}.json`;
    if (!existsSync(sidecar)) {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      const builder = await ServerChild.start({ env: { BENCH_DATABASE_URL: `sqlite:${file}` } });
      try {
        writeFileSync(`${sidecar}.part`, JSON.stringify(await build(builder, size, label, o.clients)));
      } finally {
        await builder.stop();
      }
      renameSync(`${sidecar}.part`, sidecar);
    } else console.log(`  ${label}: history from ${file}`);
    const dir = mkdtempSync(join(tmpdir(), 'countersign-scale-'));
    const history = JSON.parse(readFileSync(sidecar, 'utf8')) as History;
    if (history.prepared.approvers.length < o.clients)
      throw new Error(`${file} was built for ${history.prepared.approvers.length} clients; delete it or use --clients ${history.prepared.approvers.length}`);
    copyFileSync(file, join(dir, 'bench.db'));
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, join(dir, 'bench.db-wal'));
    // The embedded CA's key-encryption key, which the server keeps beside its database.
    const kek = join(o.cache, 'countersign-ca.key');
    if (existsSync(kek)) copyFileSync(kek, join(dir, 'countersign-ca.key'));
    const child = await ServerChild.start({ env: { BENCH_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}` } });
    return { child, history, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = store === 'postgres' ? await freshSchema() : null;
  const child = await ServerChild.start({ env: db ? { BENCH_DATABASE_URL: db.url } : {} });
  try {
    const history = await build(child, size, label, o.clients);
    await db?.analyze();
    return { child, history, cleanup: async () => void (await db?.drop()) };
  } catch (e) {
    await child.stop();
    await db?.drop();
    throw e;
  }
}

async function measureSize(store: 'sqlite' | 'postgres', size: number, o: ScaleOptions): Promise<SizeResult> {
  const { child, history, cleanup } = await serverWithHistory(store, size, o);
  const { prepared, pop } = history;
  try {
    const base = child.url;
    const approverAuth = `Basic ${Buffer.from(`${prepared.approvers[0]}:${PASSWORD}`).toString('base64')}`;
    const requesterAuth = `Basic ${Buffer.from(`${pop.requester}:${PASSWORD}`).toString('base64')}`;
    const api = `${base}/KeyfactorAPI/Workflow`;
    // A keyset cursor deep in the default order: walk 20 pages of 50 once (not timed).
    let cursor = '';
    for (let p = 0; p < 20; p++) {
      const r = await fetch(`${api}/Instances?ReturnLimit=50${cursor ? `&ContinueAfter=${cursor}` : ''}`, { headers: headers(ADMIN) });
      await r.arrayBuffer();
      cursor = r.headers.get('x-countersign-continue-after') ?? cursor;
    }
    const reads: Record<string, LatencySummary> = {};
    const readPlan: [string, string, string][] = [
      ['AssignedToMe', `${api}/Instances/AssignedToMe?ReturnLimit=50`, approverAuth],
      ['/My', `${api}/Instances/My?ReturnLimit=50`, requesterAuth],
      ['list, default sort, page 1', `${api}/Instances?ReturnLimit=50`, ADMIN],
      ['list, default sort, page 21 (offset)', `${api}/Instances?ReturnLimit=50&PageReturned=21`, ADMIN],
      ['list, default sort, page 21 (keyset)', `${api}/Instances?ReturnLimit=50&ContinueAfter=${cursor}`, ADMIN],
      [
        'Status=Suspended, StartDate desc',
        `${api}/Instances?ReturnLimit=50&QueryString=${encodeURIComponent('Status -eq "Suspended"')}&SortField=StartDate&SortAscending=1`,
        ADMIN,
      ],
      ['Title -contains', `${api}/Instances?ReturnLimit=50&QueryString=${encodeURIComponent('Title -contains "host12"')}`, ADMIN],
      ['GET with history', `${api}/Instances/${pop.sampleId}?includeHistory=true`, ADMIN],
    ];
    for (const [name, url, auth] of readPlan) reads[name] = await readLatency(url, auth);
    const starts = await startLoad(base, prepared.definitionId, o.durationMs);
    const signals = await runHttpLoad({
      urls: [base],
      auths: prepared.approvers.map((a: string) => `Basic ${Buffer.from(`${a}:${PASSWORD}`).toString('base64')}`),
      instanceIds: prepared.instanceIds,
      body: SIGNAL_BODY,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      hardStopMs: 60_000,
    });
    if (signals.errors) throw new Error(`signals: ${signals.errors} errors, e.g. ${signals.errorSamples[0]}`);
    const usage = await child.usage();
    return {
      store,
      size,
      populateMs: pop.ms,
      startsPerSecond: starts.rate,
      startLatencyMs: starts.latency,
      signalsPerSecond: signals.rate,
      signalLatencyMs: signals.latencyMs,
      reads,
      rssMiB: usage.rss / 2 ** 20,
    };
  } finally {
    await child.stop();
    await cleanup();
  }
}

async function measureFloor(o: ScaleOptions): Promise<{ signalsPerSecond: number; signalLatencyMs: LatencySummary }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'floor-server.ts'), '6000', await hashPassword(PASSWORD)], {
    cwd: join(HERE, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const ready = await new Promise<{ url: string; instanceIds: string[] }>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line);
        if (msg.type === 'ready') resolve(msg);
      });
      proc.on('exit', (code) => reject(new Error(`floor server exited (${code})`)));
    });
    const auths = Array.from({ length: o.clients }, (_, i) => `Basic ${Buffer.from(`BENCH\\approver${String(i + 1).padStart(2, '0')}:${PASSWORD}`).toString('base64')}`);
    const r = await runHttpLoad({
      urls: [ready.url],
      auths,
      instanceIds: ready.instanceIds,
      body: SIGNAL_BODY,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      hardStopMs: 60_000,
    });
    if (r.errors) throw new Error(`floor: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
    return { signalsPerSecond: r.rate, signalLatencyMs: r.latencyMs };
  } finally {
    proc.stdin!.end();
    proc.kill('SIGTERM');
  }
}

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '-');

export async function runScaleBench(o: ScaleOptions): Promise<ScaleResult> {
  const sizes: SizeResult[] = [];
  for (const store of o.stores)
    for (const size of o.sizes) {
      const r = await measureSize(store, size, o);
      sizes.push(r);
      printSize(r, o);
    }
  const floor = o.stores.includes('sqlite') ? await measureFloor(o) : null;
  const ratios: Record<string, number | null> = {};
  for (const store of o.stores) {
    const mine = sizes.filter((s) => s.store === store);
    const first = mine[0];
    for (const s of mine.slice(1)) {
      ratios[`${store} starts ${s.size} / ${first!.size}`] = s.startsPerSecond / first!.startsPerSecond;
      ratios[`${store} signals ${s.size} / ${first!.size}`] = s.signalsPerSecond / first!.signalsPerSecond;
    }
    if (store === 'sqlite' && floor) for (const s of mine) ratios[`sqlite signals ${s.size} / floor`] = s.signalsPerSecond / floor.signalsPerSecond;
  }
  print({ options: o, sizes, floor, ratios });
  return { options: o, sizes, floor, ratios };
}

function printSize(s: SizeResult, o: ScaleOptions): void {
  console.log(`  ${s.store}, ${f(s.size)} instances (populated in ${f(s.populateMs / 1000)} s), RSS ${f(s.rssMiB)} MiB`);
  console.log(`    starts  ${f(s.startsPerSecond).padStart(7)}/s  p50 ${f(s.startLatencyMs.p50, 2)}  p99 ${f(s.startLatencyMs.p99, 2)} ms (${START_CLIENTS} clients)`);
  console.log(`    signals ${f(s.signalsPerSecond).padStart(7)}/s  p50 ${f(s.signalLatencyMs.p50, 2)}  p99 ${f(s.signalLatencyMs.p99, 2)} ms (${o.clients} clients)`);
  for (const [name, l] of Object.entries(s.reads)) console.log(`    ${name.padEnd(40)} p50 ${f(l.p50, 2).padStart(7)}  p99 ${f(l.p99, 2).padStart(7)} ms`);
}

function print(r: ScaleResult): void {
  console.log('');
  if (r.floor)
    console.log(
      `  floor (minimal Fastify + raw transaction, SQLite FULL): ${f(r.floor.signalsPerSecond)}/s  p50 ${f(r.floor.signalLatencyMs.p50, 2)}  p99 ${f(r.floor.signalLatencyMs.p99, 2)} ms`,
    );
  for (const [k, v] of Object.entries(r.ratios)) console.log(`  ratio ${k.padEnd(36)} ${v === null ? '-' : f(round(v, 3), 3)}`);
}
