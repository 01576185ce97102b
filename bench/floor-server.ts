/*
 * The floor beside the HTTP signal line of the scale phase (bench/scale.ts): the least a server
 * can do for a signal. A minimal Fastify server that does the same edge work as Countersign
 * (the x-keyfactor-requested-with check, Basic credentials verified once with scrypt and then
 * cached, the JSON body, a 204) and the same raw transaction as the raw baseline (SELECT the
 * instance row, UPDATE it with the signal appended, INSERT a history row) on SQLite with the same
 * durability (synchronous=FULL), one transaction per request.
 *
 * Run as: node --import tsx bench/floor-server.ts <instances> <approver password hash>
 * Prints {"type":"ready","url":...,"instanceIds":[...]} and serves until stdin closes.
 */
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPassword } from '../src/security/password.ts';
import { approverName } from './setup.ts';
import { openLikeStore } from './targets/sqlite.ts';

const count = Number(process.argv[2] ?? 8000);
const passwordHash = process.argv[3] ?? '';
const dir = mkdtempSync(join(tmpdir(), 'countersign-floor-'));
const db = openLikeStore(join(dir, 'floor.db'));
db.pragma('wal_autocheckpoint = 1000');

const insertInstance = db.prepare(
  `INSERT INTO instances (id, reference_id, definition_id, definition_version, definition_name, workflow_type, status, status_message,
    current_step, current_step_id, current_step_display_name, title, initiator_id, initiator_name, initial_data, state_data, metadata,
    signals, pending_role_ids, start_date, last_modified, restarted_from, restarted_to, rev)
   VALUES (?, ?, 'floor', 1, 'Floor', 'Enrollment', 2, 'Waiting', 'RequireApproval1', 'step', 'Require Approval', 'bench request', 34, 'BENCH\\requester',
    '{"cn":"www.example.com"}', '{"cn":"www.example.com"}', '{}', '[]', '[2]', ?, ?, NULL, NULL, 1)`,
);
const insertHistory = db.prepare('INSERT INTO instance_history (instance_id, at, kind, step, actor, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
const select = db.prepare('SELECT * FROM instances WHERE id = ?');
const update = db.prepare('UPDATE instances SET signals = ?, status_message = ?, last_modified = ?, rev = ? WHERE id = ?');

const ids: string[] = [];
db.transaction(() => {
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    insertInstance.run(id, i + 1, now, now);
    insertHistory.run(id, now, 'Started', null, 'BENCH\\requester', 'Started.', null);
    ids.push(id);
  }
}).immediate();

const signalTx = db.transaction((id: string, accountName: string, data: unknown) => {
  const now = new Date().toISOString();
  const row = select.get(id) as { signals: string; rev: number } | undefined;
  if (!row) return false;
  const signals = JSON.parse(row.signals) as unknown[];
  signals.push({ step: 'RequireApproval1', signal: 'ApprovalStatus', identityId: 2, accountName, data, at: now });
  update.run(JSON.stringify(signals), `${signals.length} received`, now, row.rev + 1, id);
  insertHistory.run(id, now, 'SignalReceived', 'RequireApproval1', accountName, 'Approved: bench', JSON.stringify(data));
  return true;
});

/** Authorization header -> account name, after one scrypt verification. */
const credentials = new Map<string, string>();
const approvers = new Set(Array.from({ length: 256 }, (_, i) => approverName(i)));

const app = Fastify({ logger: false });
app.post<{ Params: { id: string }; Body: { SignalKey?: string; Data?: unknown } }>('/KeyfactorAPI/Workflow/Instances/:id/Signals', async (req, reply) => {
  if (req.headers['x-keyfactor-requested-with'] !== 'APIClient') return reply.code(400).send({ ErrorCode: '0x1', Message: 'header' });
  const auth = req.headers.authorization ?? '';
  let who = credentials.get(auth);
  if (!who) {
    const [user, password] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    if (!user || !approvers.has(user) || !(await verifyPassword(password ?? '', passwordHash))) return reply.code(401).send({ ErrorCode: '0x2', Message: 'auth' });
    credentials.set(auth, user);
    who = user;
  }
  if (typeof req.body?.SignalKey !== 'string') return reply.code(400).send({ ErrorCode: '0x3', Message: 'body' });
  if (!signalTx.immediate(req.params.id, who, req.body.Data ?? {})) return reply.code(404).send({ ErrorCode: '0x4', Message: 'no instance' });
  return reply.code(204).send();
});

const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ type: 'ready', url, instanceIds: ids })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
