/*
 * Countersign signal benchmark. See docs/benchmarks.md.
 *
 *   npm run bench                                  all targets, all phases
 *   npm run bench -- --only sqlite                 one target
 *   npm run bench -- --only http                   one phase (raw | store | service | http), every target
 *   npm run bench -- --only sqlite,raw,http        combined
 *   npm run bench -- --duration 10 --warmup 2 --clients 32 --instances 8000 --depth auto --cpu-prof
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { startBenchIssuer } from './bearer.ts';
import { runHttpLoad, type HttpLoadResult } from './http-load.ts';
import { busyCores, cpuSnapshot, waitForQuiet, type CpuSnapshot } from './load.ts';
import { HARD_STOP_MS, type Options, parseArgs, QUIET_CORES } from './options.ts';
import { printProfileSummary, summariseProfile, type ProfileSummary } from './profile-summary.ts';
import { SIGNAL_BODY } from './setup.ts';
import { printEnrollment, runEnrollmentBench, type EnrollmentBenchResult } from './enrollment.ts';
import { runScaleBench, type ScaleResult } from './scale.ts';
import { printRevocation, runRevocationBench, type RevocationBenchResult } from './revocation.ts';
import { round } from './stats.ts';
import { printAcme, runAcmeBench, type AcmeBenchResult } from './acme.ts';
import type { LoopOptions, LoopResult, NodeUsage, Target } from './targets/target.ts';

/** The goals from the issue. */
const GOALS = { httpRate: 3000, p99Ms: 20, ofRaw: 0.5 };

const PASSWORD = 'bench-approver-password';

function machine() {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return {
    cpuModel: model,
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

type HttpRun = HttpLoadResult & { prepareMs: number; serverUsage: NodeUsage[]; clientCpuMs: number; profiled: boolean; otherLoadCores: number | null };

interface TargetRun {
  target: string;
  description: string;
  rawLabel: string;
  info: Record<string, unknown>;
  http?: HttpRun;
  /** The same HTTP line with OAuth bearer tokens (RS256 JWTs) instead of Basic credentials. */
  httpBearer?: HttpRun;
  /** The same HTTP line with the audit chain off (COUNTERSIGN_AUDIT_LOG=off): what the chain costs. */
  httpNoAudit?: HttpRun;
  raw?: LoopResult & { otherLoadCores: number | null };
  store?: LoopResult & { otherLoadCores: number | null };
  service?: LoopResult & { otherLoadCores: number | null };
  /** Phases during which other processes used more than QUIET_CORES of the machine. */
  warnings: string[];
  ratios: Record<string, number | null>;
  goals: { goal: string; value: number | null; pass: boolean | null }[];
  problems: string[];
  valid: boolean;
  profile?: ProfileSummary;
}

async function withHardStop<T>(what: string, p: Promise<T>, ms = HARD_STOP_MS + 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: hard stop after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function quiet(o: Options, label: string): Promise<void> {
  if (o.quietWaitMs <= 0) return;
  const busy = await waitForQuiet(QUIET_CORES, o.quietWaitMs);
  if (busy !== null && busy > QUIET_CORES)
    console.log(`  ${label}: machine still busy (${busy.toFixed(2)} cores used by others) after waiting ${o.quietWaitMs / 1000} s; running anyway`);
}

function noteLoad(run: TargetRun, phase: string, other: number | null): void {
  if (other !== null && other > QUIET_CORES) run.warnings.push(`${phase}: other processes used ${other.toFixed(2)} cores during the measurement; its figures are understated`);
}

/**
 * The HTTP line: a fresh server process (or nodes) and workload per credential kind, so Basic and
 * bearer tokens measure the same work: Basic first (the line the goals are about), then bearer.
 */
async function runHttp(t: Target, o: Options, run: TargetRun, kind: 'basic' | 'bearer'): Promise<void> {
  const label = kind === 'basic' ? 'http' : 'http bearer';
  const issuer = kind === 'bearer' ? await startBenchIssuer() : null;
  // The server process inherits the environment: only the bearer run trusts the issuer.
  for (const [k, v] of Object.entries(issuer?.env ?? {})) process.env[k] = v;
  process.stdout.write(`  ${label}: starting server, preparing ${o.clients} approvers and ${o.instances} instances ... `);
  const started = await t.start({ profileDir: o.profileDir ?? undefined, breakdown: o.breakdown, experiments: o.experiments }).finally(() => {
    for (const k of Object.keys(issuer?.env ?? {})) delete process.env[k];
  });
  try {
    const prepared = await withHardStop('prepare', started.prepare({ approvers: o.clients, instances: o.instances, password: PASSWORD }), HARD_STOP_MS);
    console.log(`${Math.round(prepared.ms)} ms`);
    await quiet(o, label);
    process.stdout.write(`  ${label}: ${o.clients} clients, ${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s measured ... `);
    const auths = issuer
      ? await Promise.all(prepared.approvers.map(async (name) => `Bearer ${await issuer.tokenFor(name)}`))
      : prepared.approvers.map((name) => `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`);
    let marking: Promise<void> = Promise.resolve();
    let usage: Promise<NodeUsage[]> = Promise.resolve([]);
    let cpu0 = process.cpuUsage();
    let cpu = { user: 0, system: 0 };
    let snap0: CpuSnapshot | null = null;
    let snap1: CpuSnapshot | null = null;
    const result = await runHttpLoad({
      urls: started.urls,
      auths,
      instanceIds: prepared.instanceIds,
      body: SIGNAL_BODY,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      hardStopMs: HARD_STOP_MS,
      onMeasureStart: () => {
        cpu0 = process.cpuUsage();
        snap0 = cpuSnapshot();
        marking = started.markStart();
      },
      onMeasureEnd: () => {
        snap1 = cpuSnapshot();
        cpu = process.cpuUsage(cpu0);
        usage = marking.then(() => started.markEnd());
      },
    });
    const serverUsage = await usage;
    const all = busyCores(snap0, snap1);
    const windowS = o.durationMs / 1000;
    const ours = serverUsage.reduce((a, u) => a + u.cpuMs, 0) / 1000 / windowS + (cpu.user + cpu.system) / 1e6 / windowS;
    const otherLoadCores = all === null ? null : Math.max(0, all - ours);
    const measured = {
      ...result,
      prepareMs: prepared.ms,
      serverUsage,
      clientCpuMs: (cpu.user + cpu.system) / 1000,
      profiled: o.profileDir !== null || o.breakdown,
      otherLoadCores,
    };
    if (kind === 'basic') run.http = measured;
    else run.httpBearer = measured;
    noteLoad(run, label, otherLoadCores);
    console.log(`${Math.round(result.rate)} signals/s`);
    if (result.errors) run.problems.push(`${label}: ${result.errors} response(s) other than 204, e.g. ${result.errorSamples.slice(0, 3).join(' | ')}`);
    if (result.exhausted) run.problems.push(`${label}: a client ran out of instances; raise --instances (now ${o.instances})`);
    if (result.timedOut) run.problems.push(`${label}: hard stop reached`);
    if (result.signals === 0) run.problems.push(`${label}: no signal completed in the measured window`);
  } finally {
    await started.stop();
    await issuer?.close();
  }
}

async function runLoop(
  o: Options,
  run: TargetRun,
  label: string,
  fn: (lo: LoopOptions) => Promise<LoopResult>,
  lo: LoopOptions,
): Promise<LoopResult & { otherLoadCores: number | null }> {
  await quiet(o, label);
  process.stdout.write(`  ${label}: ${lo.durationMs / 1000} s, depth ${lo.depth} ... `);
  const snap0 = cpuSnapshot();
  const cpu0 = process.cpuUsage();
  const r = await withHardStop(label, fn(lo));
  const cpu = process.cpuUsage(cpu0);
  const snap1 = cpuSnapshot();
  const all = busyCores(snap0, snap1);
  const otherLoadCores = all === null || !snap0 || !snap1 ? null : Math.max(0, all - (cpu.user + cpu.system) / 1000 / (snap1.at - snap0.at));
  noteLoad(run, label, otherLoadCores);
  console.log(`${Math.round(r.rate)} signals/s${otherLoadCores !== null && otherLoadCores > QUIET_CORES ? ` (others used ${otherLoadCores.toFixed(2)} cores meanwhile)` : ''}`);
  return { ...r, otherLoadCores };
}

/** Server time per signal: event-loop busy time, the instrumented store and auth calls, and the rest. */
function printBreakdown(u: NodeUsage, h: HttpLoadResult, node: number): void {
  const per = (ms: number) => (1000 * ms) / h.signals;
  const busyMs = u.elu * h.windowMs;
  const entries = Object.entries(u.breakdown!).sort((a, b) => b[1].ms - a[1].ms);
  const top = entries.filter(([k]) => !k.startsWith('sql '));
  const topMs = top.reduce((a, [, v]) => a + v.ms, 0);
  console.log(`\n  server node ${node}: microseconds of main-thread time per HTTP signal (${fmt(h.signals)} signals; calls per signal in brackets)`);
  console.log(`    ${fmt(per(busyMs), 1).padStart(8)}  event loop busy (all work)`);
  for (const [k, v] of top) console.log(`    ${fmt(per(v.ms), 1).padStart(8)}  ${k} [${fmt(v.count / h.signals, 2)}]`);
  console.log(`    ${fmt(per(busyMs - topMs), 1).padStart(8)}  everything else: HTTP parsing and writing, fastify, hooks, JSON, promises, GC`);
  console.log('    of which SQL statements (inside the calls above):');
  for (const [k, v] of entries.filter(([k]) => k.startsWith('sql ')).slice(0, 12))
    console.log(`    ${fmt(per(v.ms), 1).padStart(8)}  ${k.slice(4)} [${fmt(v.count / h.signals, 2)}]`);
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function report(run: TargetRun, o: Options): void {
  const rawRate = run.raw?.rate ?? null;
  const rows: [string, ((LoopResult | HttpLoadResult) & { otherLoadCores: number | null }) | undefined, string][] = [
    [run.rawLabel, run.raw, 'SELECT + UPDATE + INSERT per transaction'],
    ['store + engine (in-process)', run.store, 'mutateInstance + applySignal'],
    ['service (in-process)', run.service, 'WorkflowService.signal'],
    [`HTTP, ${o.clients} clients`, run.http, 'POST .../Signals, separate server process'],
    [`HTTP, ${o.clients} clients, audit chain off`, run.httpNoAudit, 'the same with COUNTERSIGN_AUDIT_LOG=off'],
    [`HTTP bearer JWT, ${o.clients} clients`, run.httpBearer, 'the same with Authorization: Bearer (RS256 JWT)'],
  ];
  console.log('');
  console.log(
    `  ${'line'.padEnd(36)}${'signals/s'.padStart(11)}${'p50'.padStart(8)}${'p90'.padStart(8)}${'p99'.padStart(8)}${'max'.padStart(8)}  ${'x raw'.padStart(6)}${'others'.padStart(8)}  what`,
  );
  for (const [name, r, what] of rows) {
    if (!r) continue;
    const l = r.latencyMs;
    console.log(
      `  ${name.padEnd(36)}${fmt(r.rate).padStart(11)}${fmt(l.p50, 2).padStart(8)}${fmt(l.p90, 2).padStart(8)}${fmt(l.p99, 2).padStart(8)}${fmt(l.max, 1).padStart(8)}  ${(rawRate ? fmt(r.rate / rawRate, 2) : '-').padStart(6)}${(r.otherLoadCores === null ? '?' : fmt(r.otherLoadCores, 2)).padStart(8)}  ${what}`,
    );
  }
  console.log('  (latencies in ms; single-threaded lines: time per signal; HTTP: request round trip; others: CPU cores used by other processes meanwhile)');
  if (run.http) {
    const h = run.http;
    const su = h.serverUsage.length
      ? { cpuMs: h.serverUsage.reduce((a, u) => a + u.cpuMs, 0), elu: Math.max(...h.serverUsage.map((u) => u.elu)), nodes: h.serverUsage.length }
      : undefined;
    console.log(
      `  HTTP log-in round ${fmt(h.loginMs)} ms; window ${fmt(h.windowMs / 1000, 2)} s, ${fmt(h.signals)} signals (+${fmt(h.warmupSignals)} warm-up), errors ${h.errors}, mean depth ${fmt(h.meanDepth, 1)}` +
        (su
          ? `; server CPU ${fmt(su.cpuMs / h.windowMs, 2)} cores${su.nodes > 1 ? ` (${su.nodes} nodes)` : ''}, event loop busy ${fmt(su.elu * 100, 0)}%${su.nodes > 1 ? ' (busiest node)' : ''}`
          : '') +
        `; client CPU ${fmt(h.clientCpuMs / h.windowMs, 2)} cores; other processes ${h.otherLoadCores === null ? '?' : fmt(h.otherLoadCores, 2)} cores${h.profiled ? ' (PROFILED/INSTRUMENTED run: rates are lowered by the measuring)' : ''}`,
    );
    for (const [i, u] of h.serverUsage.entries()) if (u.breakdown) printBreakdown(u, h, i);
  }
  if (run.httpBearer) {
    const b = run.httpBearer;
    const cpuMs = b.serverUsage.reduce((a, u) => a + u.cpuMs, 0);
    console.log(
      `  HTTP bearer: first-token round ${fmt(b.loginMs)} ms (JWKS fetched once per node, then one RS256 verification per token, cached); ${fmt(b.signals)} signals, errors ${b.errors}` +
        (b.serverUsage.length ? `; server CPU ${fmt(cpuMs / b.windowMs, 2)} cores` : '') +
        `; other processes ${b.otherLoadCores === null ? '?' : fmt(b.otherLoadCores, 2)} cores`,
    );
  }
  console.log('');
  for (const [k, v] of Object.entries(run.ratios)) console.log(`  ratio ${k.padEnd(28)} ${v === null ? '-' : fmt(v, 3)}`);
  console.log('');
  console.log(`  goals (issue)${o.experiments.length ? ` - EXPERIMENT ${o.experiments.join(', ')}, not the shipped code` : ''}:`);
  for (const g of run.goals)
    console.log(
      `    ${g.goal.padEnd(44)} ${(g.value === null ? '-' : fmt(g.value, g.value < 10 ? 3 : 1)).padStart(10)}  ${g.pass === null ? 'NOT MEASURED' : g.pass ? 'PASS' : 'FAIL'}`,
    );
  if (run.warnings.length) {
    console.log('');
    console.log('  WARNING: the machine was not idle:');
    for (const w of run.warnings) console.log(`    - ${w}`);
  }
  if (run.problems.length) {
    console.log('');
    console.log('  BENCHMARK FAILED (results not valid):');
    for (const p of run.problems) console.log(`    - ${p}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.profileDir) mkdirSync(o.profileDir, { recursive: true });
  const m = machine();
  console.log(`Countersign signal benchmark: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}`);
  console.log(`phases: ${o.phases.join(', ')}; targets: ${o.targets.map((t) => t.name).join(', ')}`);
  if (o.experiments.length) console.log(`EXPERIMENTS ${o.experiments.join(', ')}: these figures are NOT the shipped code (see bench/experiments.ts)`);
  const runs: TargetRun[] = [];
  // 'enroll', 'scale' and 'ocsp' alone run no signal target.
  for (const t of o.phases.some((p) => p !== 'enroll' && p !== 'scale' && p !== 'ocsp') ? o.targets : []) {
    console.log(`\n[${t.name}] ${t.description}`);
    const run: TargetRun = {
      target: t.name,
      description: t.description,
      rawLabel: t.rawLabel ?? 'raw DB (1 connection, 1 thread)',
      info: (await t.info?.()) ?? {},
      ratios: {},
      goals: [],
      problems: [],
      warnings: [],
      valid: true,
    };
    runs.push(run);
    try {
      if (o.phases.includes('http')) {
        await runHttp(t, o, run, 'basic');
        // The same line once more without the audit chain, in the same run (docs/security/audit.md).
        const withAudit = run.http;
        const previous = process.env.COUNTERSIGN_AUDIT_LOG;
        process.env.COUNTERSIGN_AUDIT_LOG = 'off';
        try {
          process.stdout.write('  (audit chain off) ');
          await runHttp(t, o, run, 'basic');
          run.httpNoAudit = run.http;
        } finally {
          if (previous === undefined) delete process.env.COUNTERSIGN_AUDIT_LOG;
          else process.env.COUNTERSIGN_AUDIT_LOG = previous;
          run.http = withAudit;
        }
        // A profile or breakdown is about the Basic line; the bearer line is measured plain.
        if (!o.profileDir && !o.breakdown) await runHttp(t, o, run, 'bearer');
      }
      const depth = o.depth === 'auto' ? Math.min(o.clients, Math.max(1, Math.round(run.http?.meanDepth ?? 4))) : o.depth;
      const lo: LoopOptions = { durationMs: o.durationMs, hardStopMs: HARD_STOP_MS, approvers: o.clients, depth, batch: o.batch, experiments: o.experiments };
      if (o.phases.includes('raw')) run.raw = await runLoop(o, run, 'raw', (x) => t.rawBaseline(x), lo);
      if (o.phases.includes('store') && t.engineBaseline) run.store = await runLoop(o, run, 'store', (x) => t.engineBaseline!(x, 'store'), lo);
      if (o.phases.includes('service') && t.engineBaseline) run.service = await runLoop(o, run, 'service', (x) => t.engineBaseline!(x, 'service'), lo);
    } catch (err) {
      run.problems.push(`aborted: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (run.http && o.profileDir) {
      const files = readdirSync(o.profileDir)
        .filter((f) => f.startsWith(`${t.name}-`) && f.endsWith('.cpuprofile'))
        .sort();
      const last = files.at(-1);
      if (last) {
        run.profile = summariseProfile(JSON.parse(readFileSync(join(o.profileDir, last), 'utf8')));
        console.log(`\n  CPU profile of the server during the measured window: ${join(o.profileDir, last)}`);
        printProfileSummary(run.profile);
      }
    }
    const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : null);
    run.ratios = {
      'HTTP / raw DB': ratio(run.http?.rate, run.raw?.rate),
      'HTTP bearer / HTTP Basic': ratio(run.httpBearer?.rate, run.http?.rate),
      'HTTP / HTTP without the audit chain': ratio(run.http?.rate, run.httpNoAudit?.rate),
      'HTTP / store+engine': ratio(run.http?.rate, run.store?.rate),
      'HTTP / service': ratio(run.http?.rate, run.service?.rate),
      'store+engine / raw DB': ratio(run.store?.rate, run.raw?.rate),
    };
    const hr = run.http?.rate;
    const p99 = run.http?.latencyMs.p99;
    const ofRaw = run.ratios['HTTP / raw DB'] ?? null;
    run.goals = [
      { goal: `HTTP >= ${GOALS.httpRate} signals/s (${o.clients} clients)`, value: hr ?? null, pass: hr === undefined ? null : hr >= GOALS.httpRate },
      { goal: `HTTP p99 < ${GOALS.p99Ms} ms`, value: p99 ?? null, pass: p99 === undefined ? null : p99 < GOALS.p99Ms },
      { goal: `HTTP >= ${GOALS.ofRaw} x raw DB rate (same run)`, value: ofRaw, pass: ofRaw === null ? null : ofRaw >= GOALS.ofRaw },
    ];
    run.valid = run.problems.length === 0;
    report(run, o);
  }
  let enrollment: EnrollmentBenchResult | null = null;
  if (o.phases.includes('enroll')) {
    console.log('\n[enroll] CSR enrollment (SQLite, embedded P-256 CA, no workflow) against raw P-256 signing');
    await quiet(o, 'enroll');
    enrollment = await withHardStop('enroll', runEnrollmentBench({ clients: o.clients, durationMs: o.durationMs, warmupMs: o.warmupMs }));
    printEnrollment(enrollment);
  }
  let scale: ScaleResult | null = null;
  if (o.phases.includes('scale')) {
    const stores = o.targets.map((t) => t.name).filter((n): n is 'sqlite' | 'postgres' => n === 'sqlite' || n === 'postgres');
    console.log(`\n[scale] history sizes ${o.sizes.join(', ')} on ${stores.join(', ')} (90 % Complete), against a minimal Fastify floor`);
    await quiet(o, 'scale');
    scale = await runScaleBench({ stores, sizes: o.sizes, clients: o.clients, durationMs: o.durationMs, warmupMs: o.warmupMs, cache: o.scaleCache });
  }
  let revocation: RevocationBenchResult | null = null;
  if (o.phases.includes('ocsp')) {
    console.log('\n[ocsp] OCSP answers against a static DER from the same server, and revocations with no workflow (SQLite, embedded P-256 CA)');
    await quiet(o, 'ocsp');
    revocation = await withHardStop('ocsp', runRevocationBench({ clients: o.clients, durationMs: o.durationMs, warmupMs: o.warmupMs }), 6 * HARD_STOP_MS);
    printRevocation(revocation);
  }
  let acmeOrders: AcmeBenchResult | null = null;
  if (o.phases.includes('acme')) {
    console.log('\n[acme] ACME orders end to end with acme-client (HTTPS, http-01, no workflow) against raw P-256 signing');
    await quiet(o, 'acme');
    acmeOrders = await withHardStop('acme', runAcmeBench({ clients: o.clients, durationMs: o.durationMs, warmupMs: o.warmupMs }));
    printAcme(acmeOrders);
  }
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(
    o.out,
    `${JSON.stringify(
      {
        startedAt: new Date().toISOString(),
        machine: m,
        options: {
          phases: o.phases,
          durationMs: o.durationMs,
          warmupMs: o.warmupMs,
          clients: o.clients,
          instances: o.instances,
          depth: o.depth,
          batch: o.batch,
          profiled: o.profileDir !== null,
          breakdown: o.breakdown,
          experiments: o.experiments,
          quietWaitMs: o.quietWaitMs,
        },
        goals: GOALS,
        runs,
        enrollment,
        scale,
        revocation,
        acme: acmeOrders,
      },
      (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? round(v, 3) : v),
      2,
    )}\n`,
  );
  console.log(`\nresults: ${o.out}`);
  const invalid = runs.some((r) => !r.valid);
  const missed = runs.some((r) => r.goals.some((g) => g.pass === false));
  process.exit(invalid || (o.strict && missed) ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
