import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerChild } from '../child.ts';
import { backgroundCheckpointer } from '../experiments.ts';
import { sqliteEngineBaseline } from '../inproc.ts';
import { timedBatches } from '../loop.ts';
import { THRESHOLD, approverName } from '../setup.ts';
import type { LoopOptions, LoopResult, NodeUsage, Prepared, StartedTarget, StartOptions, Target } from './target.ts';

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'store', 'sqlite', 'migrations');

/** The pragmas SqliteStore.open sets (wal_autocheckpoint = 0 comes with the background checkpointer). */
export function openLikeStore(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // The store's default durability (COUNTERSIGN_DURABILITY=full): the baseline pays the same sync.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  for (const f of readdirSync(MIGRATIONS)
    .filter((x) => x.endsWith('.sql'))
    .sort()) {
    db.transaction(() => {
      db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(f, new Date().toISOString());
      db.exec(readFileSync(join(MIGRATIONS, f), 'utf8'));
    }).immediate();
  }
  return db;
}

/**
 * The raw database line: per signal one IMMEDIATE transaction that SELECTs the instance row,
 * UPDATEs it (signals array grown by one entry, status message, last_modified, rev + 1) and
 * INSERTs one history row. Instance rows and their start history have the shape the engine writes.
 */
export async function sqliteRawBaseline(o: LoopOptions): Promise<LoopResult> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-raw-'));
  const db = openLikeStore(join(dir, 'raw.db'));
  // As SqliteStore does since the change measured here: checkpoints in a worker thread, not in COMMIT.
  const checkpointer = backgroundCheckpointer(db, join(dir, 'raw.db'));
  try {
    const definitionId = randomUUID();
    const stepId = randomUUID();
    const msg = (n: number) => `Waiting for approval at Require Approval: ${n} of ${THRESHOLD} approvals received.`;
    const insertInstance = db.prepare(
      `INSERT INTO instances (id, reference_id, definition_id, definition_version, definition_name, workflow_type, status, status_message,
        current_step, current_step_id, current_step_display_name, title, initiator_id, initiator_name, initial_data, state_data, metadata,
        signals, pending_role_ids, start_date, last_modified, restarted_from, restarted_to, rev)
       VALUES (?, ?, ?, 1, 'Bench 0123abcd', 'Enrollment', 2, ?, 'RequireApproval1', ?, 'Require Approval', 'bench request', 34, 'BENCH\\requester',
        '{"cn":"www.example.com"}', '{"cn":"www.example.com"}', '{}', '[]', '[2]', ?, ?, NULL, NULL, 1)`,
    );
    const insertHistory = db.prepare('INSERT INTO instance_history (instance_id, at, kind, step, actor, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const select = db.prepare('SELECT * FROM instances WHERE id = ?');
    const update = db.prepare('UPDATE instances SET signals = ?, status_message = ?, last_modified = ?, rev = ? WHERE id = ?');
    let ref = 0;
    const createBatch = db.transaction((count: number) => {
      const ids: string[] = [];
      const now = new Date().toISOString();
      for (let i = 0; i < count; i++) {
        const id = randomUUID();
        insertInstance.run(id, ++ref, definitionId, msg(0), stepId, now, now);
        insertHistory.run(id, now, 'Started', null, 'BENCH\\requester', 'Started on Bench 0123abcd version 1.', null);
        insertHistory.run(id, now, 'StepEntered', 'StartNOOP', null, 'Entered StartNOOP (NOOPStep).', null);
        insertHistory.run(id, now, 'StepCompleted', 'StartNOOP', null, 'Completed StartNOOP.', null);
        insertHistory.run(id, now, 'StepEntered', 'RequireApproval1', null, 'Entered Require Approval (RequireApproval).', null);
        insertHistory.run(id, now, 'Suspended', 'RequireApproval1', null, msg(0), null);
        ids.push(id);
      }
      return ids;
    });
    const signalTx = db.transaction((id: string, p: number) => {
      const now = new Date().toISOString();
      const row = select.get(id) as { signals: string; rev: number };
      const signals = JSON.parse(row.signals) as unknown[];
      const accountName = approverName(p);
      signals.push({ step: 'RequireApproval1', signal: 'ApprovalStatus', identityId: p + 2, accountName, data: { Approved: true, Comment: 'bench' }, at: now });
      update.run(JSON.stringify(signals), msg(signals.length), now, row.rev + 1, id);
      insertHistory.run(
        id,
        now,
        'SignalReceived',
        'RequireApproval1',
        accountName,
        'Approved: bench',
        JSON.stringify({ Signal: 'ApprovalStatus', Approved: true, Comment: 'bench' }),
      );
    });
    return await timedBatches(
      o,
      (n) => createBatch.immediate(n),
      (id, p) => signalTx.immediate(id, p),
      false,
    );
  } finally {
    await checkpointer?.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startSqlite(opts: StartOptions): Promise<StartedTarget> {
  const child = await ServerChild.start({ env: { BENCH_BREAKDOWN: opts.breakdown ? '1' : '', BENCH_EXPERIMENTS: (opts.experiments ?? []).join(',') } });
  let before: Awaited<ReturnType<ServerChild['usage']>> | null = null;
  let profiled = false;
  return {
    urls: [child.url],
    async prepare(spec): Promise<Prepared> {
      const r = await child.request({ cmd: 'prepare', ...spec }, 'prepared', 120_000);
      return { approvers: r.approvers, instanceIds: r.instanceIds, ms: r.ms };
    },
    async markStart() {
      if (opts.profileDir) {
        await child.request({ cmd: 'profile-start' }, 'profile-started');
        profiled = true;
      }
      before = await child.usage();
    },
    async markEnd(): Promise<NodeUsage[]> {
      const after = await child.usage();
      if (profiled) await child.request({ cmd: 'profile-stop', path: join(opts.profileDir!, `sqlite-node0-${Date.now()}.cpuprofile`) }, 'profile-stopped');
      if (!before) return [];
      const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
      const active = after.elu.active - before.elu.active;
      const idle = after.elu.idle - before.elu.idle;
      let breakdown: NodeUsage['breakdown'];
      if (after.breakdown) {
        breakdown = {};
        for (const [k, v] of Object.entries(after.breakdown)) {
          const b = before.breakdown?.[k] ?? { count: 0, ms: 0 };
          if (v.count > b.count) breakdown[k] = { count: v.count - b.count, ms: v.ms - b.ms };
        }
      }
      return [{ cpuMs, elu: active / (active + idle), breakdown }];
    },
    stop: () => child.stop(),
  };
}

export const sqliteTarget: Target = {
  name: 'sqlite',
  description: 'one server process on a local SQLite file (WAL, synchronous FULL, group commit)',
  rawLabel: 'raw DB (better-sqlite3, 1 thread)',
  start: startSqlite,
  rawBaseline: sqliteRawBaseline,
  engineBaseline: sqliteEngineBaseline,
  async info() {
    const db = new Database(':memory:');
    const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    db.close();
    return { sqliteVersion: version, pragmas: { journal_mode: 'WAL', synchronous: 'FULL', busy_timeout: 5000, foreign_keys: 'ON' } };
  },
};
