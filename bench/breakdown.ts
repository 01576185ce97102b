/*
 * Where does one signal's database time go? Times each statement of the raw signal transaction
 * (BEGIN IMMEDIATE, SELECT, JSON, UPDATE, INSERT history, COMMIT) and re-runs the raw loop under
 * a few pragma variants, so a proposed store change can be judged before it is made.
 *
 *   npx tsx bench/breakdown.ts [--duration 5] [--depth 4] [--repeat 3]
 *
 * Not part of `npm run bench`; the variants are experiments, not what the server does.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { approverName, THRESHOLD } from './setup.ts';

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'store', 'sqlite', 'migrations');
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const DURATION = Math.min(20_000, arg('--duration', 5) * 1000);
const DEPTH = arg('--depth', 4);
const REPEAT = Math.max(1, Math.min(5, arg('--repeat', 3)));

/** Write syscalls and bytes of this process so far (Linux /proc/self/io), or null. */
function io(): { syscw: number; wchar: number } | null {
  try {
    const t = readFileSync('/proc/self/io', 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(t)![1]);
    return { syscw: get('syscw'), wchar: get('wchar') };
  } catch {
    return null;
  }
}
const BATCH = 2000;

interface Variant {
  name: string;
  pragmas: string[];
  history: boolean;
  /** SQL run after the migrations (schema experiments). */
  patch?: string;
  /** History keyed (instance_id, seq): the INSERT supplies seq = the instance's new rev. */
  keyedHistory?: boolean;
  /** Signals per transaction (group commit), each in its own SAVEPOINT; default 1. */
  group?: number;
}

const NO_AUTOINCREMENT = `DROP TABLE instance_history;
  CREATE TABLE instance_history (id INTEGER PRIMARY KEY, instance_id TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, step TEXT, actor TEXT, message TEXT NOT NULL, data TEXT);
  CREATE INDEX instance_history_instance ON instance_history (instance_id, id);`;
const KEYED = `DROP TABLE instance_history;
  CREATE TABLE instance_history (instance_id TEXT NOT NULL, id INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, step TEXT, actor TEXT, message TEXT NOT NULL, data TEXT,
    PRIMARY KEY (instance_id, id)) WITHOUT ROWID;`;

const VARIANTS: Variant[] = [
  { name: 'as the store (WAL, NORMAL, autocheckpoint 1000)', pragmas: [], history: true },
  { name: 'no automatic checkpoints (wal_autocheckpoint=0)', pragmas: ['wal_autocheckpoint = 0'], history: true },
  { name: 'synchronous=OFF', pragmas: ['synchronous = OFF'], history: true },
  { name: 'wal_autocheckpoint=10000', pragmas: ['wal_autocheckpoint = 10000'], history: true },
  { name: 'without the history INSERT', pragmas: [], history: false },
  { name: 'cache_size=-65536 (64 MiB)', pragmas: ['cache_size = -65536'], history: true },
  { name: 'instance_history id without AUTOINCREMENT', pragmas: [], history: true, patch: NO_AUTOINCREMENT },
  { name: 'history WITHOUT ROWID, key (instance_id, seq), no extra index', pragmas: [], history: true, patch: KEYED, keyedHistory: true },
  { name: 'group commit: 16 signals per transaction, SAVEPOINT each', pragmas: [], history: true, group: 16 },
  { name: 'group commit 16 + no automatic checkpoints', pragmas: ['wal_autocheckpoint = 0'], history: true, group: 16 },
  { name: 'no automatic checkpoints + keyed history', pragmas: ['wal_autocheckpoint = 0'], history: true, patch: KEYED, keyedHistory: true },
];

function open(file: string, extra: string[], patch?: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  for (const p of extra) db.pragma(p);
  for (const f of readdirSync(MIGRATIONS)
    .filter((x) => x.endsWith('.sql'))
    .sort())
    db.exec(readFileSync(join(MIGRATIONS, f), 'utf8'));
  if (patch) db.exec(patch);
  return db;
}

function run(v: Variant, timed: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-breakdown-'));
  const db = open(join(dir, 'b.db'), v.pragmas, v.patch);
  const msg = (n: number) => `Waiting for approval at Require Approval: ${n} of ${THRESHOLD} approvals received.`;
  const insI = db.prepare(
    `INSERT INTO instances (id, reference_id, definition_id, definition_version, definition_name, workflow_type, status, status_message, current_step, current_step_id,
      current_step_display_name, title, initiator_id, initiator_name, initial_data, state_data, metadata, signals, pending_role_ids, start_date, last_modified, rev)
     VALUES (?, ?, 'def', 1, 'Bench', 'Enrollment', 2, ?, 'RequireApproval1', 'step', 'Require Approval', 'bench request', 34, 'BENCH\\requester',
      '{"cn":"www.example.com"}', '{"cn":"www.example.com"}', '{}', '[]', '[2]', ?, ?, 1)`,
  );
  const insH = v.keyedHistory
    ? db.prepare('INSERT INTO instance_history (instance_id, id, at, kind, step, actor, message, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    : db.prepare('INSERT INTO instance_history (instance_id, at, kind, step, actor, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const hist = (id: string, seq: number, ...rest: unknown[]) => (v.keyedHistory ? insH.run(id, seq, ...rest) : insH.run(id, ...rest));
  const sel = db.prepare('SELECT * FROM instances WHERE id = ?');
  const upd = db.prepare('UPDATE instances SET signals = ?, status_message = ?, last_modified = ?, rev = ? WHERE id = ?');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const savepoint = db.prepare('SAVEPOINT s');
  const release = db.prepare('RELEASE s');
  const group = v.group ?? 1;
  let inTxn = 0;
  const flush = () => {
    if (inTxn > 0) commit.run();
    inTxn = 0;
  };
  let ref = 0;
  const batch = db.transaction(() => {
    const ids: string[] = [];
    const now = new Date().toISOString();
    for (let i = 0; i < BATCH; i++) {
      const id = randomUUID();
      insI.run(id, ++ref, msg(0), now, now);
      let seq = 0;
      for (const k of ['Started', 'StepEntered', 'StepCompleted', 'StepEntered', 'Suspended']) hist(id, -5 + seq++, now, k, null, null, 'x'.repeat(40), null);
      ids.push(id);
    }
    return ids;
  });
  const parts = { begin: 0, select: 0, json: 0, update: 0, history: 0, commit: 0 };
  const slow = { count: 0, ms: 0, max: 0 };
  let n = 0;
  let spent = 0;
  let io0: ReturnType<typeof io> = null;
  let ioSum = { syscw: 0, wchar: 0 };
  const now = performance.now.bind(performance);
  outer: while (true) {
    const ids = batch.immediate();
    io0 = io();
    const t0 = now();
    for (let p = 0; p < DEPTH; p++) {
      for (const id of ids) {
        const a = now();
        if (inTxn === 0) begin.run();
        if (group > 1) savepoint.run();
        const b = now();
        const row = sel.get(id) as { signals: string; rev: number };
        const c = now();
        const at = new Date().toISOString();
        const signals = JSON.parse(row.signals) as unknown[];
        signals.push({ step: 'RequireApproval1', signal: 'ApprovalStatus', identityId: p + 2, accountName: approverName(p), data: { Approved: true, Comment: 'bench' }, at });
        const text = JSON.stringify(signals);
        const d = now();
        upd.run(text, msg(signals.length), at, row.rev + 1, id);
        const e = now();
        if (v.history)
          hist(id, row.rev + 1, at, 'SignalReceived', 'RequireApproval1', approverName(p), 'Approved: bench', '{"Signal":"ApprovalStatus","Approved":true,"Comment":"bench"}');
        const f = now();
        if (group > 1) release.run();
        if (++inTxn >= group) flush();
        const g = now();
        if (timed) {
          parts.begin += b - a;
          parts.select += c - b;
          parts.json += d - c;
          parts.update += e - d;
          parts.history += f - e;
          parts.commit += g - f;
          if (g - f > 0.5) {
            slow.count++;
            slow.ms += g - f;
            slow.max = Math.max(slow.max, g - f);
          }
        }
        n++;
        if (spent + (g - t0) >= DURATION) {
          flush();
          spent += now() - t0;
          addIo();
          break outer;
        }
      }
    }
    flush();
    spent += now() - t0;
    addIo();
  }
  function addIo() {
    const io1 = io();
    if (io0 && io1) ioSum = { syscw: ioSum.syscw + io1.syscw - io0.syscw, wchar: ioSum.wchar + io1.wchar - io0.wchar };
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    rate: n / (spent / 1000),
    n,
    slow,
    writesPerSignal: ioSum.syscw / n,
    kbPerSignal: ioSum.wchar / 1024 / n,
    perSignalUs: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, (1000 * v) / n])),
  };
}

console.log(`raw signal transaction, depth ${DEPTH}, ${DURATION / 1000} s per line`);
const base = run(VARIANTS[0]!, true);
console.log('\nper statement (microseconds per signal, as the store does it):');
for (const [k, v] of Object.entries(base.perSignalUs)) console.log(`  ${k.padEnd(8)} ${v.toFixed(1).padStart(7)}`);
console.log(`  (timing overhead included; rate with timers: ${Math.round(base.rate)} signals/s)`);
console.log(
  `  commits over 0.5 ms (checkpoints): ${base.slow.count} of ${base.n} (1 in ${Math.round(base.n / Math.max(1, base.slow.count))}), ` +
    `${base.slow.ms.toFixed(0)} ms in all = ${((1000 * base.slow.ms) / base.n).toFixed(1)} us per signal, longest ${base.slow.max.toFixed(1)} ms`,
);
console.log(`  write syscalls per signal ${base.writesPerSignal.toFixed(1)}, ${base.kbPerSignal.toFixed(1)} KiB written per signal (WAL frames + checkpoints)`);
console.log(`\nvariants (no per-statement timers; median of ${REPEAT} interleaved runs):`);
const results = VARIANTS.map(() => [] as ReturnType<typeof run>[]);
for (let r = 0; r < REPEAT; r++) {
  for (const [i, v] of VARIANTS.entries()) results[i]!.push(run(v, false));
}
console.log(`  ${'signals/s'.padStart(9)}  ${'range'.padStart(15)}  ${'writes'.padStart(6)}  ${'KiB'.padStart(5)}  (per signal)`);
VARIANTS.forEach((v, i) => {
  const rs = results[i]!.map((x) => x.rate).sort((a, b) => a - b);
  const med = rs[Math.floor(rs.length / 2)]!;
  const last = results[i]!.at(-1)!;
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    `  ${f(med).padStart(9)}  ${`${f(rs[0]!)}-${f(rs.at(-1)!)}`.padStart(15)}  ${last.writesPerSignal.toFixed(1).padStart(6)}  ${last.kbPerSignal.toFixed(1).padStart(5)}  ${v.name}`,
  );
});
