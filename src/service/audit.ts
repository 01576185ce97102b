import { createHash, createHmac } from 'node:crypto';
import {
  AUDIT_CATEGORY as C,
  AUDIT_OPERATION as O,
  type AuditContent,
  type AuditCrypto,
  type AuditEntry,
  type AuditLevel,
  type ChainReport,
  checkChain,
  checkEntry,
  seal,
} from '../domain/audit.ts';
import type { SecurityEventName, SecurityEvents } from '../observability/logger.ts';
import type { ListQuery, Store } from '../store/store.ts';

/*
 * The audit log (docs/security/audit.md): every security-relevant event the services emit is also
 * appended here, chained and signed (src/domain/audit.ts). Appends are queued in emit order; while
 * one batch is being written the next events wait, then go together in one transaction (a busy
 * server pays one commit for many events, not one each). The store serialises batches across nodes.
 */

type Mapping = { category: number; operation: number; level: AuditLevel; entityType: string | null; id: (f: Fields) => unknown; message: (f: Fields) => string };
type Fields = Record<string, unknown>;

const by = (f: Fields) => (f.by ? ` by ${String(f.by)}` : '');

/** What each event means in the log. Unknown events are kept too (category and operation 0). */
const MAPPINGS: Partial<Record<SecurityEventName, Mapping>> = {
  'login.failed': {
    category: C.Login,
    operation: O.LoginFailed,
    level: 1,
    entityType: 'Identity',
    id: (f) => f.accountName,
    message: (f) => `Failed sign-in as ${String(f.accountName ?? '(no name)')} from ${String(f.remoteAddress)}.`,
  },
  'login.locked': {
    category: C.Login,
    operation: O.LockedOut,
    level: 1,
    entityType: 'Identity',
    id: (f) => f.accountName,
    message: (f) => `Sign-in refused (locked out) for ${String(f.accountName ?? '(no name)')} from ${String(f.remoteAddress)}: ${String(f.reason ?? '')}`,
  },
  'identity.created': {
    category: C.Security,
    operation: O.Create,
    level: 0,
    entityType: 'Identity',
    id: (f) => f.identityId,
    message: (f) => `Identity ${String(f.accountName)} created${by(f)}.`,
  },
  'identity.deleted': {
    category: C.Security,
    operation: O.Delete,
    level: 0,
    entityType: 'Identity',
    id: (f) => f.identityId,
    message: (f) => `Identity ${String(f.accountName)} deleted${by(f)}.`,
  },
  'identity.password_changed': {
    category: C.Security,
    operation: O.Update,
    level: 0,
    entityType: 'Identity',
    id: (f) => f.identityId,
    message: (f) => `${String(f.accountName)} changed their password.`,
  },
  'identity.password_reset': {
    category: C.Security,
    operation: O.Reset,
    level: 0,
    entityType: 'Identity',
    id: (f) => f.identityId,
    message: (f) => `The password of ${String(f.accountName)} was reset${by(f)}.`,
  },
  'role.created': { category: C.Security, operation: O.Create, level: 0, entityType: 'Role', id: (f) => f.roleId, message: (f) => `Role ${String(f.name)} created${by(f)}.` },
  'role.updated': { category: C.Security, operation: O.Update, level: 0, entityType: 'Role', id: (f) => f.roleId, message: (f) => `Role ${String(f.name)} changed${by(f)}.` },
  'role.deleted': { category: C.Security, operation: O.Delete, level: 0, entityType: 'Role', id: (f) => f.roleId, message: (f) => `Role ${String(f.name)} deleted${by(f)}.` },
  'definition.created': {
    category: C.WorkflowDefinition,
    operation: O.Create,
    level: 0,
    entityType: 'WorkflowDefinition',
    id: (f) => f.definitionId,
    message: (f) => `Workflow definition ${String(f.definitionId)} created${by(f)}.`,
  },
  'definition.changed': {
    category: C.WorkflowDefinition,
    operation: O.Update,
    level: 0,
    entityType: 'WorkflowDefinition',
    id: (f) => f.definitionId,
    message: (f) => `Workflow definition ${String(f.definitionId)} changed (${String(f.change)})${by(f)}.`,
  },
  'definition.deleted': {
    category: C.WorkflowDefinition,
    operation: O.Delete,
    level: 0,
    entityType: 'WorkflowDefinition',
    id: (f) => f.definitionId,
    message: (f) => `Workflow definition ${String(f.definitionId)} deleted${by(f)}.`,
  },
  'definition.published': {
    category: C.WorkflowDefinition,
    operation: O.Publish,
    level: 0,
    entityType: 'WorkflowDefinition',
    id: (f) => f.definitionId,
    message: (f) => `Workflow definition ${String(f.definitionId)} version ${String(f.version)} published${by(f)}.`,
  },
  'instance.started': {
    category: C.WorkflowInstance,
    operation: O.Start,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) => `Workflow instance ${String(f.instanceId)} started${by(f)}.`,
  },
  'instance.signalled': {
    category: C.WorkflowInstance,
    operation: O.Signal,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) =>
      `${String(f.by)} sent ${String(f.signalKey)} to workflow instance ${String(f.instanceId)}${f.decision ? ` (${String(f.decision)})` : ''}${f.repeated ? ', a repeat counted once' : ''}; it is now ${String(f.status)}.`,
  },
  'instance.stopped': {
    category: C.WorkflowInstance,
    operation: O.Stop,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) => `Workflow instance ${String(f.instanceId)} stopped${by(f)}.`,
  },
  'instance.restarted': {
    category: C.WorkflowInstance,
    operation: O.Start,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) => `Workflow instance ${String(f.instanceId)} restarted as ${String(f.newInstanceId)} on version ${String(f.version)}${by(f)}.`,
  },
  'instance.deleted': {
    category: C.WorkflowInstance,
    operation: O.Delete,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) => `Workflow instance ${String(f.instanceId)} deleted${by(f)}.`,
  },
  'instance.reassigned': {
    category: C.WorkflowInstance,
    operation: O.Update,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) => `Workflow instance ${String(f.instanceId)} step ${String(f.step)} reassigned to roles ${String(f.roleIds)}${by(f)}.`,
  },
  'instance.migrated': {
    category: C.WorkflowInstance,
    operation: O.Update,
    level: 0,
    entityType: 'WorkflowInstance',
    id: (f) => f.instanceId,
    message: (f) => `Workflow instance ${String(f.instanceId)} moved from version ${String(f.fromVersion)} to ${String(f.toVersion)}; it is now ${String(f.status)}${by(f)}.`,
  },
  'delegation.created': {
    category: C.Security,
    operation: O.Create,
    level: 0,
    entityType: 'Delegation',
    id: (f) => f.delegationId,
    message: (f) => `${String(f.delegator)} delegated approvals to ${String(f.delegate)} from ${String(f.startsAt)} to ${String(f.endsAt)}${by(f)}.`,
  },
  'delegation.revoked': {
    category: C.Security,
    operation: O.Delete,
    level: 0,
    entityType: 'Delegation',
    id: (f) => f.delegationId,
    message: (f) => `Delegation ${String(f.delegationId)} revoked${by(f)}.`,
  },
  'certificate.issued': {
    category: C.Certificate,
    operation: O.Issue,
    level: 0,
    entityType: 'Certificate',
    id: (f) => f.certificateId,
    message: (f) => `Certificate ${String(f.certificateId ?? '')} issued${f.subject ? ` for ${String(f.subject)}` : ''}.`,
  },
  'certificate.revoked': {
    category: C.Certificate,
    operation: O.Revoke,
    level: 0,
    entityType: 'Certificate',
    id: (f) => f.certificateId,
    message: (f) =>
      `Certificate ${String(f.certificateId)} (serial ${String(f.serialNumber)}) ${[-1, 7, 8].includes(Number(f.reason)) ? 'released from hold' : Number(f.reason) === 6 ? 'put on hold' : `revoked with reason ${String(f.reason)}`}${by(f)}${f.instanceId ? ` through workflow instance ${String(f.instanceId)}` : ''}.`,
  },
  'certificate.deleted': {
    category: C.Certificate,
    operation: O.Delete,
    level: 0,
    entityType: 'Certificate',
    id: (f) => f.certificateId,
    message: (f) => `Certificate ${String(f.certificateId)} deleted${by(f)}.`,
  },
};

/** Entries per append transaction at most (bounded pauses on the embedded store). */
const MAX_BATCH = 500;
/** How often the outbox is sealed without being told (rows another node, or a crash, left). */
const SEAL_INTERVAL_MS = 5_000;

/** An event's entry in the log: what the mapping says it means, at `at`. Pure. */
export function auditContent(event: string, fields: Fields, at: string): AuditContent {
  const m = MAPPINGS[event as SecurityEventName];
  const actor = [fields.by, fields.accountName].find((v) => typeof v === 'string') as string | undefined;
  return {
    at,
    category: m?.category ?? 0,
    operation: m?.operation ?? 0,
    level: m?.level ?? 0,
    actor: actor ?? null,
    entityType: m?.entityType ?? null,
    auditIdentifier: m ? stringOrNull(m.id(fields)) : null,
    immutableIdentifier: event,
    message: m ? m.message(fields) : `${event}.`,
    data: JSON.stringify({ event, ...fields }),
  };
}

/** What waits to be written: one entry to append, or a turn of the outbox sealer. */
type Waiting = { content: AuditContent; done: (entry: AuditEntry | null) => void } | { seal: true };

export class AuditLog {
  private waiting: Waiting[] = [];
  private writing: Promise<void> | null = null;
  private readonly crypto: AuditCrypto;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    key: string,
    private readonly onError: (message: string, err: unknown) => void = () => {},
    private readonly now: () => string = () => new Date().toISOString(),
  ) {
    this.crypto = {
      sha256: (t) => createHash('sha256').update(t).digest('hex'),
      hmac: (t) => createHmac('sha256', key).update(t).digest('hex'),
    };
  }

  /**
   * Security events go to `inner` (the log) and are appended here. Events whose action writes its
   * own entry in its transaction (`stage`, then `committed`) go to the audit outbox instead.
   */
  wrap(inner: SecurityEvents): SecurityEvents {
    return {
      emit: (event, fields) => {
        inner.emit(event, fields);
        this.record(event, fields ?? {});
      },
      stage: (event, fields) => auditContent(event, fields, this.now()),
      committed: (event, fields) => {
        inner.emit(event, fields);
        this.sealSoon();
      },
    };
  }

  record(event: string, fields: Fields): Promise<AuditEntry | null> {
    const content = auditContent(event, fields, this.now());
    return new Promise((done) => {
      this.waiting.push({ content, done });
      this.writing ??= this.write();
    });
  }

  /**
   * Outbox rows were committed: seal them, after what is queued now. Turns asked for while one
   * waits are one turn (the sealer takes every row there is then, in batches).
   */
  sealSoon(): void {
    const last = this.waiting[this.waiting.length - 1];
    if (!(last && 'seal' in last)) this.waiting.push({ seal: true });
    this.writing ??= this.write();
  }

  /** Seals what the outbox holds now (rows a crash left), then every few seconds (another node's). */
  start(intervalMs = SEAL_INTERVAL_MS): void {
    this.sealSoon();
    this.timer ??= setInterval(() => this.sealSoon(), intervalMs);
    this.timer.unref();
  }

  /** Stops the periodic sealing; what is queued is still written (flush). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Writes what waits, batch after batch, until nothing does. */
  private async write(): Promise<void> {
    while (this.waiting.length) {
      if ('seal' in this.waiting[0]!) {
        this.waiting.shift();
        await this.sealOutbox();
        continue;
      }
      const end = this.waiting.findIndex((w) => 'seal' in w);
      const batch = this.waiting.splice(0, Math.min(MAX_BATCH, end < 0 ? this.waiting.length : end)) as Extract<Waiting, { content: AuditContent }>[];
      try {
        const entries = await this.store.appendAudit(
          batch.map((b) => b.content),
          (prev, content) => seal(prev, content, this.crypto),
        );
        for (const [i, b] of batch.entries()) b.done(entries[i] ?? null);
      } catch (err) {
        this.onError(`audit entries not written (${batch.map((b) => b.content.immutableIdentifier).join(', ')})`, err);
        for (const b of batch) b.done(null);
      }
    }
    this.writing = null;
  }

  /** Moves the outbox into the chain, MAX_BATCH rows per transaction, until it is empty. */
  private async sealOutbox(): Promise<void> {
    try {
      while ((await this.store.sealAuditOutbox(MAX_BATCH, (prev, content) => seal(prev, content, this.crypto))).length === MAX_BATCH);
    } catch (err) {
      // The rows stay in the outbox: the next turn (at the latest the periodic one) seals them.
      this.onError('audit outbox not sealed', err);
    }
  }

  /** Waits for every queued append and outbox turn (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Seals everything in the outbox now and waits for it (tests, the CLI). */
  async sealNow(): Promise<void> {
    this.sealSoon();
    await this.flush();
  }

  get(id: number): Promise<AuditEntry | null> {
    return this.store.getAuditEntry(id);
  }

  query(q: ListQuery): Promise<AuditEntry[]> {
    return this.store.queryAudit(q);
  }

  /** Keyfactor's Validate: whether the entry is intact and follows the one stored before it; null when unknown. */
  async validate(id: number): Promise<{ ok: boolean; reason: string | null } | null> {
    const entry = await this.store.getAuditEntry(id);
    if (!entry) return null;
    const r = checkEntry(entry, await this.store.previousAuditEntry(id), this.crypto);
    return r.ok ? { ok: true, reason: null } : { ok: false, reason: r.reason };
  }

  /** Walks the whole chain in batches; the first entry that fails, or the head when all hold. */
  async verify(batch = 1000): Promise<ChainReport> {
    let previous: AuditEntry | null = null;
    let checked = 0;
    for (;;) {
      const entries = await this.store.auditEntriesAfter(previous?.id ?? 0, batch);
      if (entries.length === 0) return { checked, firstBad: null, head: previous ? { id: previous.id, hash: previous.hash } : null };
      const r = checkChain(entries, previous, this.crypto);
      checked += r.checked;
      if (r.firstBad) return { ...r, checked };
      previous = entries[entries.length - 1]!;
    }
  }
}

const stringOrNull = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));
