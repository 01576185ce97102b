import type { Effect, Transition } from '../domain/engine.ts';
import type { LoginThrottleState } from '../domain/login-throttle.ts';
import type { BoundAst } from '../domain/query/index.ts';
import type { SecuritySnapshot } from '../domain/security/roles.ts';
import type { Definition, DefinitionVersion, HistoryEntry, Instance } from '../domain/types.ts';
import type { AcmeStore } from './acme-store.ts';
import type { AuditContent, AuditEntry } from '../domain/audit.ts';
import type { AlertStore } from './alert-store.ts';
import type { CertificateStore } from './certificate-store.ts';
import type { Delegation, NewDelegation } from './delegation-rows.ts';
import type { MigrationState, StoreStats } from './operations.ts';

/**
 * The one persistence port. Two implementations: SQLite (embedded, default) and PostgreSQL
 * (several nodes). Nothing outside src/store knows which one it has.
 *
 * Read-modify-write operations take a pure, synchronous function: the store loads the row under
 * its lock (a SQLite write transaction, or SELECT ... FOR UPDATE), calls the function, and writes
 * the result, the history and the queued effects in the same transaction. That is how a signal is
 * recorded, evaluated and advanced atomically.
 */
export interface Store extends SecurityStore {
  /** CAs, templates, enrollment requests and issued certificates (certificate-store.ts). */
  readonly certificates: CertificateStore;
  /** Certificate collections, expiration alerts and their claims, renewals (alert-store.ts). */
  readonly alerts: AlertStore;
  /** The ACME server's accounts, orders, authorizations, nonces, EAB keys and profiles (acme-store.ts). */
  readonly acme: AcmeStore;
  migrate(): Promise<void>;
  close(): Promise<void>;

  // Definitions ---------------------------------------------------------------------------------
  listDefinitions(q: ListQuery): Promise<Definition[]>;
  getDefinition(id: string): Promise<Definition | null>;
  getVersion(definitionId: string, version: number): Promise<DefinitionVersion | null>;
  listVersions(definitionId: string): Promise<number[]>;
  /** Inserts a definition with its first version; throws DefinitionBindingTaken on a clash. */
  insertDefinition(def: Definition, first: DefinitionVersion): Promise<void>;
  /**
   * Atomically rewrites a definition (and optionally upserts one version). Throws NotFound when
   * the definition does not exist, DefinitionBindingTaken when an enabled definition already binds
   * one of its (WorkflowType, Key) pairs.
   */
  updateDefinition<R>(id: string, fn: (def: Definition, latest: DefinitionVersion) => DefinitionChange<R>): Promise<R>;
  /** Deletes a definition and its versions; fn may veto (throw) given the count of non-terminal instances. */
  deleteDefinition(id: string, guard: (activeInstances: number) => void): Promise<void>;
  /** The published, enabled definition bound to (workflowType, key). */
  findBoundDefinition(workflowType: string, key: string | null): Promise<Definition | null>;

  // Instances -----------------------------------------------------------------------------------
  /**
   * Creates an instance; the store assigns the next ReferenceId. `audit`: entries for the audit
   * outbox, written in the same transaction (see sealAuditOutbox).
   */
  createInstance(build: (referenceId: number) => Transition, audit?: AuditContent[]): Promise<Instance>;
  /**
   * Claims (alert, certificate) and creates the instance in one transaction: null, and nothing
   * created, when the pair was claimed before (an earlier run, a restart, another node).
   */
  startInstanceOnce(claim: AlertClaim, build: (referenceId: number) => Transition, audit?: AuditContent[]): Promise<Instance | null>;
  getInstance(id: string): Promise<Instance | null>;
  getHistory(id: string): Promise<HistoryEntry[]>;
  /**
   * Serialised read-modify-write of one instance. Throws NotFound for an unknown id. fn may throw
   * (nothing is written) or return a transition (null: nothing to write) and, for Restart, a
   * second instance to create in the same transaction.
   */
  mutateInstance<R>(id: string, fn: (instance: Instance) => InstanceChange<R>): Promise<R>;
  queryInstances(q: InstanceQuery): Promise<Instance[]>;
  /**
   * Deletes an instance and its history; guard may veto (throw: nothing is deleted or written).
   * `audit`: entries for the audit outbox, written in the same transaction (see sealAuditOutbox).
   */
  deleteInstance(id: string, guard: (instance: Instance) => void, audit?: AuditContent[]): Promise<void>;
  /** Ids of Suspended instances holding signals, for the reconciler. */
  listReconcileCandidates(limit: number): Promise<string[]>;

  // Jobs: effects recorded with the transition that caused them ----------------------------------
  /**
   * Claims up to `limit` due jobs for `owner` for `leaseMs`. A job whose lease has expired (its
   * owner died) can be claimed again; so a job runs at least once.
   */
  claimJobs(owner: string, limit: number, leaseMs: number): Promise<Job[]>;
  /** Gives a claimed job back to run again at `runAt` (a retry). Only its lease owner can. */
  releaseJob(id: number, owner: string, runAt: string, error: string): Promise<boolean>;
  /**
   * Deletes a claimed job without recording anything on its instance: the last resort when even
   * recording a failure fails, so the job is never run again. Only its lease owner can.
   */
  dropJob(id: number, owner: string): Promise<boolean>;
  /** The jobs queued for one instance (Explain: retries, timers ahead). */
  jobsOf(instanceId: string): Promise<QueuedJob[]>;
  /** Milliseconds until the next job is due (null: none queued), for the runner's sleep. */
  nextJobDelay(): Promise<number | null>;

  // Idempotency-Key (docs/approvals.md) ---------------------------------------------------------
  /**
   * Claims (scope, key) for a request with this fingerprint: 'claimed' when new, expired, or held
   * by a lease that ran out (its node died) before its request acted; else the stored answer
   * ('replay'), 'mismatch' (the key was used with another request), 'in-flight' (the first request
   * is still being answered) or 'acted' (the first request's action committed, but its answer was
   * never stored and its lease is over: it must not act again).
   *
   * A request acts under its key (holdingIdempotencyKey, idempotency-rows.ts): the store methods of
   * the idempotent operations (createInstance, mutateInstance when it writes, createRequest,
   * reviseRevocation when it changes the certificate) mark the row `acted_at` in their own
   * transaction, so the mark commits if and only if the action does.
   */
  claimIdempotencyKey(c: IdempotencyClaimRequest): Promise<IdempotencyClaim>;
  /**
   * Stores the answer of a claimed key; null releases the key (the request may be sent again),
   * unless it acted: then its lease ends now, and retries get 'acted' rather than acting again.
   */
  finishIdempotencyKey(scope: number, key: string, answer: StoredAnswer | null): Promise<void>;
  /** Deletes up to `limit` keys expired before `now`; returns how many. */
  sweepIdempotencyKeys(now: string, limit: number): Promise<number>;

  // Audit log (src/domain/audit.ts) ----------------------------------------------------------------
  /**
   * Appends entries in order, in one transaction, serialised with every other append (on every
   * node): seal receives the hash of the entry stored just before (null for the very first) and
   * returns this entry's hash and signature. One transaction for many entries is the audit log's
   * group commit: a busy server pays one commit for all the events that queued meanwhile.
   */
  appendAudit(contents: AuditContent[], seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]>;
  /**
   * The audit outbox's sealer: in one transaction, serialised with appendAudit and every other
   * sealer (on every node), takes up to `limit` outbox rows in id order (the content that actions
   * wrote in their own transactions: InstanceChange.audit, createInstance's and deleteInstance's
   * `audit`), appends them to the chain exactly as appendAudit does, and deletes them. An empty
   * list: nothing was waiting.
   */
  sealAuditOutbox(limit: number, seal: (prevHash: string | null, content: AuditContent) => { hash: string; signature: string }): Promise<AuditEntry[]>;
  /** How many entries wait in the audit outbox (committed with their actions, not sealed into the chain yet). */
  countAuditOutbox(): Promise<number>;
  getAuditEntry(id: number): Promise<AuditEntry | null>;
  /** The entry stored just before `id` (the greatest smaller id). */
  previousAuditEntry(id: number): Promise<AuditEntry | null>;
  /** Up to `limit` entries with id greater than `afterId`, in id order (verification walks). */
  auditEntriesAfter(afterId: number, limit: number): Promise<AuditEntry[]>;
  queryAudit(q: ListQuery): Promise<AuditEntry[]>;

  // Delegations (docs/approvals.md#delegation) -----------------------------------------------------
  createDelegation(d: NewDelegation): Promise<Delegation>;
  getDelegation(id: number): Promise<Delegation | null>;
  /** Marks it revoked (kept for the record); false when it was already revoked. */
  revokeDelegation(id: number, at: string, by: string): Promise<boolean>;
  /** Unrevoked delegations to or from the identity (either when null) that have not ended by `now`. */
  listDelegations(q: { identityId: number | null; now: string; includeEnded?: boolean }): Promise<Delegation[]>;
  /** Unrevoked delegations to these delegates in force at `now`. */
  delegationsTo(delegateIds: number[], now: string): Promise<Delegation[]>;

  /** A shared setting; when absent, `value` is stored and returned (the first writer wins). */
  getOrCreateSetting(name: string, value: string): Promise<string>;

  /**
   * Runs fn unless another node is running the task of the same name (PostgreSQL: an advisory
   * lock); resolves false when it did not run. Absent on single-node stores: run fn directly.
   */
  tryExclusive?(name: string, fn: () => Promise<void>): Promise<boolean>;

  // Operations (src/store/operations.ts) -------------------------------------------------------------
  /** Instance and job counts for /metrics, each one grouped query. */
  stats(): Promise<StoreStats>;
  /** Every migration shipped or recorded, with when it was applied (readiness, `migrate status`). */
  migrationStatus(): Promise<MigrationState[]>;
  /** An online, consistent copy of the database into a new file. Absent where the server does it (PostgreSQL: pg_dump). */
  backupTo?(file: string): Promise<void>;
  /**
   * Calls listener when any node queued jobs (PostgreSQL: LISTEN/NOTIFY); returns the unsubscribe.
   * Absent on single-node stores: the local WorkflowService wakes the runner itself.
   */
  onJobsQueued?(listener: () => void): () => void;
}

export interface AlertClaim {
  alertId: number;
  certificateId: number;
  at: string;
}

export interface Job {
  id: number;
  instanceId: string;
  effect: Effect;
  attempts: number;
  lastError: string | null;
}

export interface IdempotencyClaimRequest {
  scope: number;
  key: string;
  fingerprint: string;
  now: string;
  /** Until when this claim holds the key while the request is answered. */
  leaseUntil: string;
  expiresAt: string;
}

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyClaim = { state: 'claimed' } | { state: 'mismatch' } | { state: 'in-flight' } | { state: 'acted' } | ({ state: 'replay' } & StoredAnswer);

export interface QueuedJob extends Job {
  runAt: string;
}

export interface DefinitionChange<R> {
  definition: Definition;
  /** A version to insert or replace (the draft). */
  version?: DefinitionVersion;
  result: R;
}

export interface InstanceChange<R> {
  transition: Transition | null;
  /** A claimed job this change completes: deleted in the same transaction, if `owner` still holds it. */
  completeJob?: { id: number; owner: string };
  spawn?: (referenceId: number) => Transition;
  /**
   * Audit entries of this change, written to the audit outbox in the same transaction (in this
   * order), so a committed change never lacks its entry; the sealer chains them later
   * (Store.sealAuditOutbox). Written even when `transition` is null.
   */
  audit?: AuditContent[];
  result: R;
}

export interface Paging {
  limit: number;
  offset: number;
  sortColumn: string;
  ascending: boolean;
}

export interface ListQuery extends Paging {
  filter: BoundAst | null;
}

export interface InstanceQuery extends ListQuery {
  /** Only instances this identity started (My). */
  initiatorId?: number;
  /** Only Suspended instances this identity may signal and has not signalled (AssignedToMe). */
  assignedTo?: { identityId: number; roleIds: number[] };
  /**
   * Keyset paging (our extension, for deep pages): only rows after this one in the list's order,
   * given by its sort column's stored value and its reference id. Offset still applies after it.
   */
  after?: { value: string | number | null; referenceId: number };
}

import type { ClaimMatch } from '../domain/security/external-claims.ts';

// Security ----------------------------------------------------------------------------------------

export interface Identity {
  id: number;
  accountName: string;
  identityType: 'User' | 'Group';
  sid: string | null;
  email: string | null;
  /** argon2id hash in PHC text form (or an older scrypt one, src/security/password.ts); null for identities that cannot sign in with a password. */
  passwordHash: string | null;
  createdAt: string;
}

export interface RoleClaim {
  id: number;
  claimType: number;
  claimValue: string;
  providerScheme: string;
  description: string;
}

export interface Role {
  id: number;
  name: string;
  description: string;
  email: string | null;
  enabled: boolean;
  private: boolean;
  immutable: boolean;
  /** Canonical access-control strings, e.g. "/workflows/instances/read/". */
  permissions: string[];
  permissionSetId: string;
  identityIds: number[];
  claims: RoleClaim[];
}

export type NewRole = Omit<Role, 'id' | 'claims'> & { claims: Omit<RoleClaim, 'id'>[] };

export interface SecurityStore {
  countIdentities(): Promise<number>;
  /** Throws IdentityExists when the account name (case-insensitive) is taken. */
  createIdentity(identity: Omit<Identity, 'id'>): Promise<Identity>;
  getIdentity(id: number): Promise<Identity | null>;
  findIdentityByName(accountName: string): Promise<Identity | null>;
  /** Up to `limit` identities named DOMAIN\\<namePart> (ASCII case-insensitive), found through an index. */
  findIdentitiesByNamePart(namePart: string, limit: number): Promise<Identity[]>;
  listIdentities(paging: Paging): Promise<Identity[]>;
  updateIdentity(id: number, patch: Partial<Pick<Identity, 'email' | 'passwordHash'>>): Promise<Identity | null>;
  /**
   * Sets the password hash only while it is still `expected` (compare-and-set); false when the
   * identity is gone or its hash changed meanwhile. `securityChange`: bump the security generation
   * (a new password; false for a rehash of the same password, which leaves cached credentials valid).
   */
  replacePasswordHash(id: number, expected: string, next: string, securityChange: boolean): Promise<boolean>;
  /** guard: see SecurityGuard. */
  deleteIdentity(id: number, guard?: SecurityGuard): Promise<boolean>;

  createRole(role: NewRole, guard?: SecurityGuard): Promise<Role>;
  updateRole(id: number, role: NewRole, guard?: SecurityGuard): Promise<Role | null>;
  getRole(id: number): Promise<Role | null>;
  listRoles(q: ListQuery): Promise<Role[]>;
  deleteRole(id: number, guard?: SecurityGuard): Promise<boolean>;
  setRoleIdentities(roleId: number, identityIds: number[]): Promise<Role | null>;
  /**
   * Roles the identity holds directly or through a User claim on its account name, and roles
   * holding any of `matches` (claims an identity provider vouched for: type, value compared
   * case-insensitively, provider scheme case-insensitively among those listed).
   */
  rolesOfIdentity(identity: Identity, matches?: readonly ClaimMatch[]): Promise<Role[]>;
  existingRoleIds(ids: number[]): Promise<Set<number>>;
  /**
   * Remembers what an identity provider vouched for at the identity's last sign-in (replacing
   * what was there; no write when unchanged). Not a security change: the generation stays.
   */
  recordExternalClaims(identityId: number, matches: readonly ClaimMatch[]): Promise<void>;
  /** Identities whose recorded claims match any of these role claims (type, value ignoring case, scheme ignoring case), up to `limit`. */
  identitiesWithExternalClaims(claims: readonly Pick<RoleClaim, 'claimType' | 'claimValue' | 'providerScheme'>[], limit: number): Promise<Identity[]>;
  /** Bumped on every security change, so credential and role caches can tell they are stale. */
  securityGeneration(): Promise<number>;

  /**
   * Serialised read-modify-write of one account's log-in throttle row (shared by every node):
   * fn gets the row (null: none) and returns the row to write (null: delete it) and a result.
   */
  updateLoginThrottle<R>(accountKey: string, fn: (state: LoginThrottleState | null) => LoginThrottleChange<R>): Promise<R>;
  /** Deletes throttle rows last touched before `before` (ms since epoch) and not locked past it. */
  pruneLoginThrottle(before: number): Promise<number>;
}

/**
 * Vetoes a security change (by throwing) given every role and the identities their User claims
 * name, read inside the write's transaction after every other security write has committed or
 * waits: two administrators removing each other at once are checked one after the other.
 */
export type SecurityGuard = (snapshot: SecuritySnapshot) => void;

export interface LoginThrottleChange<R> {
  state: LoginThrottleState | null;
  result: R;
}
