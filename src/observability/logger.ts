import type { AuditContent } from '../domain/audit.ts';
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The one structured JSON logger of the server (Fastify's own, pino). Header values that carry
 * credentials are redacted wherever they appear; request and response bodies are never logged.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'password',
  '*.password',
  // The wire fields of a password change or reset (bodies are never logged: a second line).
  'Password',
  '*.Password',
  'CurrentPassword',
  '*.CurrentPassword',
  'NewPassword',
  '*.NewPassword',
];

/** `silent` turns logging off; any other pino level name sets the threshold. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

/**
 * Security-relevant actions, emitted by the services at a stable level and shape
 * (`{"event": "<name>", ...}`, docs/operations.md "Logs"). The services see only this interface.
 */
export interface SecurityEvents {
  emit(event: SecurityEventName, fields?: Record<string, unknown>): void;
  /**
   * Present when an audit log is kept: the audit entry of an event whose action writes it in its own
   * transaction (the store's audit outbox), computed now. The action calls `committed` after its
   * commit, instead of `emit`. See stageEvent.
   */
  stage?(event: SecurityEventName, fields: Record<string, unknown>): AuditContent;
  /** After the commit of an action that wrote its staged entry: the log line, and the outbox is sealed soon. */
  committed?(event: SecurityEventName, fields: Record<string, unknown>): void;
}

/**
 * An event written in its action's transaction: `audit` goes with the store call (InstanceChange.audit,
 * createInstance's), `done()` after the commit. Without an audit log: no entry, and done() emits.
 */
export interface StagedEvent {
  /** For the store call's `audit` (undefined: no audit log kept). */
  audit: AuditContent[] | undefined;
  /** After the commit: the log line (and the outbox is sealed soon). */
  done(): void;
}

export function stageEvent(events: SecurityEvents, event: SecurityEventName, fields: Record<string, unknown>): StagedEvent {
  if (events.stage && events.committed) {
    const content = events.stage(event, fields);
    return { audit: [content], done: () => events.committed!(event, fields) };
  }
  return { audit: undefined, done: () => events.emit(event, fields) };
}

export type SecurityEventName =
  | 'login.failed'
  | 'login.locked'
  | 'identity.created'
  | 'identity.deleted'
  | 'identity.password_changed'
  | 'identity.password_reset'
  | 'role.created'
  | 'role.updated'
  | 'role.deleted'
  | 'definition.created'
  | 'definition.changed'
  | 'definition.deleted'
  | 'definition.published'
  | 'instance.started'
  | 'instance.signalled'
  | 'instance.stopped'
  | 'instance.restarted'
  | 'instance.deleted'
  | 'instance.reassigned'
  | 'instance.migrated'
  | 'delegation.created'
  | 'delegation.revoked'
  | 'certificate.issued'
  | 'certificate.deleted'
  | 'certificate.revoked'
  | 'acme.eab.created'
  | 'acme.eab.revoked';

export const NO_SECURITY_EVENTS: SecurityEvents = { emit() {} };

/** Security events as info lines of the given logger. */
export function loggedSecurityEvents(log: Logger): SecurityEvents {
  return { emit: (event, fields) => log.info({ ...fields, event }, event) };
}
