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
