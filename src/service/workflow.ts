import { validateSteps } from '../domain/definition.ts';
import { sentBy } from '../domain/delegation.ts';
import { NO_SECURITY_EVENTS, type SecurityEvents, type StagedEvent, stageEvent } from '../observability/logger.ts';
import {
  applySignal,
  cancelForRestart,
  addNote,
  completeRun,
  fireTimer,
  migrateInstance,
  reassign,
  reconcile,
  startInstance,
  stopInstance,
  type EngineContext,
  type Effect,
  type RunOutcome,
  type SignalResult,
} from '../domain/engine.ts';
import { CountersignError, fail } from '../domain/errors.ts';
import { bindQuery, parseQuery } from '../domain/query/index.ts';
import { INSTANCE_FIELDS } from '../store/query-fields.ts';
import { keepSecrets } from '../domain/secrets.ts';
import { isTerminal } from '../domain/status.ts';
import type { Actor, Definition, DefinitionKey, DefinitionVersion, Instance, JsonObject, StepDef } from '../domain/types.ts';
import { P, grants } from '../security/permissions.ts';
import type { Principal } from '../security/principal.ts';
import type { AlertClaim, InstanceChange, Job } from '../store/store.ts';
import { roleMembers } from './role-members.ts';
import type { Services } from './services.ts';
import { canonicalWorkflowType, keyByDisplayName } from './workflow-types.ts';

export { WORKFLOW_TYPES } from './workflow-types.ts';

export const actorOf = (p: Principal): Actor => ({ identityId: p.identity.id, accountName: p.identity.accountName, roleIds: p.roleIds });

/**
 * Who may read an instance (and so learn that it exists): holders of ReadAll; its initiator with
 * ReadMy; and, while it is suspended, holders of a role that may act on its current step (they
 * need to see what they decide, and their signal must reach the engine to be answered). The one
 * rule behind every per-instance operation; everyone else gets the 404 an unknown id gets.
 */
export function canRead(p: Principal, i: Instance): boolean {
  if (grants(p.permissions, P.instancesReadAll)) return true;
  if (i.initiatorId === p.identity.id && grants(p.permissions, P.instancesReadMine)) return true;
  return i.status === 'Suspended' && p.roleIds.some((r) => i.pendingRoleIds.includes(r));
}

export const instanceNotFound = (id: string): never => fail('NotFound', `No workflow instance has Id ${id}.`);

/** 404 unless the caller may read the instance; then 403 unless they hold every permission needed. */
export function authorize(p: Principal, i: Instance, ...needed: string[]): void {
  if (!canRead(p, i)) instanceNotFound(i.id);
  const missing = needed.filter((n) => !grants(p.permissions, n));
  if (missing.length) fail('Forbidden', `${p.identity.accountName} lacks the permission for this operation; it needs ${missing.join(' and ')}.`);
}

export interface MigrationRequest {
  /** Null: the definition's published version. */
  toVersion: number | null;
  /** Waiting step's UniqueName in the old version -> its UniqueName in the new one (absent: the same name). */
  mapping: Record<string, string>;
  dryRun: boolean;
}

export interface MigrationOutcome {
  instanceId: string;
  fromVersion: number;
  toVersion: number;
  fromStep: string | null;
  toStep: string | null;
  status: Instance['status'];
  statusMessage: string | null;
  /** Decisions carried over to the new step. */
  carried: number;
  dryRun: boolean;
}

export interface NewDefinition {
  displayName: string;
  description: string | null;
  workflowType: string;
  keys: DefinitionKey[];
  enabled: boolean;
}

export interface StartRequest {
  definitionId: string | null;
  workflowType: string | null;
  key: string | null;
  title: string | null;
  initialData: JsonObject;
  /**
   * Request fields the server itself vouches for (certificate enrollment: template, CA, request
   * id); never from the caller's body. The requester's identity is added by start().
   */
  trustedData?: JsonObject;
}

/** Receives the effects of committed transitions (the runner). */
export type EffectSink = (effects: Effect[]) => void;

/**
 * The imperative shell around the pure core: loads what a transition needs, hands the pure
 * function to the store to run under the instance's lock, and passes effects on.
 */
export class WorkflowService {
  /** Frozen (published) versions never change, so they are cached for the signal path. */
  private readonly versions = new Map<string, DefinitionVersion>();
  /** effectSink receives the effects of every committed transition (the runner wakes on them). */
  constructor(
    private readonly s: Services,
    readonly effectSink: EffectSink = () => {},
    private readonly events: SecurityEvents = NO_SECURITY_EVENTS,
  ) {}

  /** What the pure engine needs of this server (clock, step types, limits); also for Explain and signal answers. */
  engineContext(): EngineContext {
    return { now: this.s.now(), registry: this.s.registry, maxWaitMs: this.s.config.maxWaitMs, resultBounds: this.s.config.resultBounds };
  }

  // Definitions -----------------------------------------------------------------------------------

  async createDefinition(input: NewDefinition, by?: string): Promise<Definition> {
    const now = this.s.now();
    const def: Definition = {
      id: this.s.newId(),
      displayName: input.displayName,
      description: input.description,
      workflowType: canonicalWorkflowType(input.workflowType),
      keys: input.keys,
      enabled: input.enabled,
      draftVersion: 1,
      publishedVersion: null,
      createdAt: now,
      lastModified: now,
    };
    await this.s.store.insertDefinition(def, { definitionId: def.id, version: 1, steps: [], frozen: false });
    this.events.emit('definition.created', { definitionId: def.id, displayName: def.displayName, workflowType: def.workflowType, by });
    return def;
  }

  async getDefinition(id: string, version?: number): Promise<{ definition: Definition; version: DefinitionVersion }> {
    const definition = (await this.s.store.getDefinition(id)) ?? fail('NotFound', `No workflow definition has Id ${id}.`);
    const v = version ?? definition.draftVersion;
    const found =
      (await this.s.store.getVersion(id, v)) ?? fail('NotFound', `Workflow definition ${id} has no version ${v}; its versions run from 1 to ${definition.draftVersion}.`);
    return { definition, version: found };
  }

  async updateDefinition(id: string, patch: Partial<Pick<Definition, 'displayName' | 'description' | 'enabled' | 'keys'>>, by?: string): Promise<Definition> {
    const updated = await this.s.store.updateDefinition(id, (def) => {
      const definition = { ...def, ...stripUndefined(patch), lastModified: this.s.now() };
      return { definition, result: definition };
    });
    this.events.emit('definition.changed', { definitionId: id, change: Object.keys(stripUndefined(patch)).join(', '), by });
    return updated;
  }

  /** PUT Steps: replaces the draft, or starts a new version when the latest is already published. */
  async putSteps(id: string, steps: StepDef[], by?: string): Promise<Definition> {
    const current = await this.getDefinition(id);
    const { steps: withSecrets, problems: secretProblems } = keepSecrets(steps, current.version.steps, this.s.registry);
    const problems = [...secretProblems, ...(await this.stepProblems(withSecrets, current.definition.workflowType))];
    if (problems.length) fail('DefinitionInvalid', `The steps are not valid: ${problems.join('; ')}.`);
    const changed = await this.s.store.updateDefinition(id, (def, latest) => {
      const version = latest.frozen ? latest.version + 1 : latest.version;
      const definition = { ...def, draftVersion: version, lastModified: this.s.now() };
      return { definition, version: { definitionId: id, version, steps: withSecrets, frozen: false }, result: definition };
    });
    this.events.emit('definition.changed', { definitionId: id, change: `steps of version ${changed.draftVersion}`, steps: steps.map((st) => st.uniqueName), by });
    return changed;
  }

  async publish(id: string, requested?: number, by?: string): Promise<Definition> {
    const { definition, version } = await this.getDefinition(id, requested);
    if (version.steps.length === 0) fail('DefinitionInvalid', `Version ${version.version} of definition ${id} has no steps; PUT Steps first.`);
    // Validated again: roles may have been deleted since the steps were written.
    const problems = await this.stepProblems(version.steps, definition.workflowType);
    if (problems.length) fail('DefinitionInvalid', `Version ${version.version} cannot be published: ${problems.join('; ')}.`);
    const published = await this.s.store.updateDefinition(id, (def) => {
      const next = { ...def, publishedVersion: version.version, lastModified: this.s.now() };
      return { definition: next, version: { ...version, frozen: true }, result: next };
    });
    this.events.emit('definition.published', { definitionId: id, version: version.version, workflowType: definition.workflowType, by });
    return published;
  }

  /** validateSteps with the roles that exist in the store now. */
  private async stepProblems(steps: StepDef[], workflowType: string): Promise<string[]> {
    const existing = await this.s.store.existingRoleIds([...new Set(steps.flatMap((st) => st.signals.flatMap((g) => g.roleIds)))]);
    return validateSteps(steps, this.s.registry, workflowType, (r) => existing.has(r));
  }

  async setEnabled(id: string, enabled: boolean, by?: string): Promise<void> {
    await this.updateDefinition(id, { enabled }, by);
  }

  async deleteDefinition(id: string, by?: string): Promise<void> {
    await this.s.store.deleteDefinition(id, (active) => {
      if (active > 0) fail('DefinitionInUse', `Definition ${id} has ${active} running or suspended instance(s); stop or finish them before deleting it.`);
    });
    this.events.emit('definition.deleted', { definitionId: id, by });
  }

  // Instances -------------------------------------------------------------------------------------

  async start(req: StartRequest, principal: Principal): Promise<Instance> {
    const definition = await this.resolveDefinitionToStart(req);
    if (!definition.enabled) fail('DefinitionDisabled', `Definition ${definition.id} is disabled; enable it to start instances.`);
    if (definition.publishedVersion === null) fail('DefinitionNotPublished', `Definition ${definition.id} has no published version; publish it first.`);
    const version = await this.version(definition.id, definition.publishedVersion!);
    const ctx = this.engineContext();
    const id = this.s.newId();
    let effects: Effect[] = [];
    // The entry is written with the instance (the audit outbox): an acknowledged start always has it.
    const event = stageEvent(this.events, 'instance.started', {
      instanceId: id,
      definitionId: definition.id,
      workflowType: definition.workflowType,
      by: principal.identity.accountName,
    });
    const instance = await this.s.store.createInstance((referenceId) => {
      const t = startInstance(
        {
          id,
          referenceId,
          definition,
          version,
          title: req.title,
          initialData: req.initialData,
          // $(requester) as Keyfactor names it; server-set, so the caller's InitialData cannot spoof it.
          trustedData: { ...req.trustedData, requester: principal.identity.accountName },
          initiator: { identityId: principal.identity.id, accountName: principal.identity.accountName },
        },
        ctx,
      );
      effects = t.effects;
      return t;
    }, event.audit);
    this.effectSink(effects);
    event.done();
    return instance;
  }

  /**
   * Starts `definition` for an expiration alert's certificate, once per (alert, certificate): the
   * claim and the instance are one transaction (Store.startInstanceOnce). Null when claimed before.
   * The server starts it, so there is no initiator; everything in trustedData comes from its records.
   */
  async startForAlert(claim: AlertClaim, definition: Definition, title: string, initialData: JsonObject, trustedData: JsonObject): Promise<Instance | null> {
    const version = await this.version(definition.id, definition.publishedVersion ?? fail('DefinitionNotPublished', `Definition ${definition.id} has no published version.`));
    const ctx = this.engineContext();
    const id = this.s.newId();
    let effects: Effect[] = [];
    const instance = await this.s.store.startInstanceOnce(claim, (referenceId) => {
      const t = startInstance({ id, referenceId, definition, version, title, initialData, trustedData, initiator: null }, ctx);
      effects = t.effects;
      return t;
    });
    if (instance) this.effectSink(effects);
    return instance;
  }

  private async resolveDefinitionToStart(req: StartRequest): Promise<Definition> {
    if (req.definitionId) return (await this.s.store.getDefinition(req.definitionId)) ?? fail('NotFound', `No workflow definition has Id ${req.definitionId}.`);
    if (!req.workflowType) fail('ValidationFailed', 'Give DefinitionId, or WorkflowType (with Key for a keyed definition).');
    const type = canonicalWorkflowType(req.workflowType!);
    const found = await this.s.store.findBoundDefinition(type, req.key);
    if (found) return found;
    // A common mix-up is the KeyDisplayName given as the Key: say which Key was meant (one read, on the failure path only).
    const meant = req.key
      ? keyByDisplayName(await this.s.store.listDefinitions({ filter: null, limit: 10_000, offset: 0, sortColumn: 'id', ascending: true }), type, req.key)
      : null;
    if (meant) fail('NotFound', `No definition of type ${type} has Key "${req.key}"; did you mean Key "${meant.value}" (KeyDisplayName "${meant.displayName}")?`);
    return fail('NotFound', `No published, enabled definition handles WorkflowType '${type}'${req.key ? ` with Key '${req.key}'` : ' without a key'}.`);
  }

  async getInstance(id: string): Promise<Instance> {
    return (await this.s.store.getInstance(id)) ?? instanceNotFound(id);
  }

  /** The instance if the caller may read it (or may act on it for a delegator); otherwise the same 404 as for an unknown id. */
  async readInstance(id: string, principal: Principal): Promise<Instance> {
    const instance = await this.getInstance(id);
    if (!canRead(principal, instance) && instance.status === 'Suspended' && this.delegations) {
      const via = await this.delegations.actorsFor(principal);
      if (via.some((d) => d.roleIds.some((r) => instance.pendingRoleIds.includes(r)))) return instance;
    }
    authorize(principal, instance);
    return instance;
  }

  /** The roles whose waiting instances are the caller's to decide: their own and their delegators'. */
  async assignedRoleIds(principal: Principal): Promise<number[]> {
    if (!this.delegations) return principal.roleIds;
    const via = await this.delegations.actorsFor(principal);
    return [...new Set([...principal.roleIds, ...via.flatMap((d) => d.roleIds)])];
  }

  /** Delegation (docs/approvals.md#delegation): who a caller may act for. */
  delegations: { actorsFor(p: Principal): Promise<Actor[]> } | null = null;

  /**
   * Records, evaluates and advances in one transaction under the instance's lock. A caller who
   * holds none of the step's roles may act for someone who delegated to them (`actingFor` picks
   * whom, else the first who may act); the decision counts as the delegator's.
   */
  async signal(id: string, key: string, data: JsonObject, principal: Principal, actingFor?: string | null): Promise<SignalResult> {
    const ctx = this.engineContext();
    let members: Record<number, number[]> | undefined;
    let delegators: Actor[] | undefined;
    let result: SignalResult | null = null;
    let event: StagedEvent | null = null;
    // What the decision needs beyond the instance (who holds the step's roles, for a step that fails
    // early; who delegated to the caller) is loaded outside the lock, then the transaction runs again.
    for (let round = 0; result === null; round++) {
      let needMembers: number[] | null = null;
      let needDelegators = false;
      result = await this.withVersion(id, (current, version) => {
        const own = acts(actorOf(principal), current);
        if (this.delegations && delegators === undefined && round < 3 && (!own || actingFor) && current.status === 'Suspended') {
          needDelegators = true;
          return { transition: null, result: null };
        }
        const via = (delegators ?? []).filter((d) => d.roleIds.some((r) => current.pendingRoleIds.includes(r)));
        if (!canRead(principal, current) && !(current.status === 'Suspended' && via.length)) instanceNotFound(current.id);
        const actor = chooseActor(principal, current, via, actingFor ?? null);
        const step = current.currentStep ? version.steps.find((st) => st.uniqueName === current.currentStep) : undefined;
        const wants = step ? this.s.registry.get(step.extensionName)?.needsRoleMembers?.(step.config) : false;
        if (wants && round < 3 && !current.pendingRoleIds.every((r) => members && Object.hasOwn(members, r))) {
          needMembers = current.pendingRoleIds;
          return { transition: null, result: null };
        }
        const r = applySignal(current, version, { key, data, actor }, members ? { ...ctx, roleMembers: members } : ctx);
        // The entry is written with the signal (the audit outbox): an acknowledged signal always has it.
        const received = r.history.find((h) => h.kind === 'SignalReceived' || h.kind === 'SignalRepeated');
        event = stageEvent(this.events, 'instance.signalled', {
          instanceId: id,
          signalKey: key,
          decision: received?.message ?? null,
          repeated: r.duplicate,
          status: r.instance.status,
          step: r.instance.currentStep,
          by: principal.identity.accountName,
        });
        return { transition: r, result: r, audit: event.audit };
      });
      if (needDelegators) delegators = await this.delegations!.actorsFor(principal);
      if (needMembers) members = { ...members, ...(await this.membersByRole(needMembers)) };
    }
    this.effectSink(result.effects);
    (event as StagedEvent | null)?.done();
    return result;
  }

  /**
   * mutateInstance with the instance's pinned definition version at hand. Versions an instance
   * runs on are frozen and cached, so the instance is read once, under its lock; only a cache
   * miss costs a second round (load the version, then run again). `check` runs first, under the lock.
   */
  private async withVersion<R>(id: string, fn: (current: Instance, version: DefinitionVersion) => InstanceChange<R>, check?: (current: Instance) => void): Promise<R> {
    for (;;) {
      let missing: { definitionId: string; version: number } | null = null;
      const result = await this.s.store.mutateInstance(id, (current) => {
        // First, so a caller who may not see the instance learns nothing, not even its definition.
        check?.(current);
        const version = this.versions.get(`${current.definitionId}:${current.definitionVersion}`);
        if (version) return fn(current, version);
        missing = { definitionId: current.definitionId, version: current.definitionVersion };
        return { transition: null, result: null as R };
      });
      if (!missing) return result;
      const m = missing as { definitionId: string; version: number };
      const loaded = await this.version(m.definitionId, m.version);
      // A version an instance runs on is frozen; a draft would never be cached, so stop here.
      if (!loaded.frozen) fail('Internal', `Instance ${id} runs on version ${m.version}, which was never published.`);
    }
  }

  /** An administrator hands the waiting step to other roles; recorded in the history. */
  async reassign(id: string, roleIds: number[], principal: Principal): Promise<void> {
    const existing = await this.s.store.existingRoleIds(roleIds);
    const unknown = roleIds.filter((r) => !existing.has(r));
    if (unknown.length) fail('ValidationFailed', `Unknown role id(s): ${unknown.join(', ')}.`);
    const ctx = this.engineContext();
    let event: StagedEvent | null = null;
    await this.withVersion(id, (current, version) => {
      authorize(principal, current, P.instancesManage, P.instancesReadAll);
      const transition = reassign(current, version, roleIds, actorOf(principal), ctx);
      event = stageEvent(this.events, 'instance.reassigned', { instanceId: id, step: current.currentStep, roleIds, by: principal.identity.accountName });
      return { transition, result: null, audit: event.audit };
    });
    (event as StagedEvent | null)?.done();
  }

  /**
   * Moves a Suspended instance to a newer published version (default: the published one) at the
   * step it waits at (same UniqueName, or `mapping`); a dry run computes the same and writes nothing.
   */
  async migrate(id: string, req: MigrationRequest, principal: Principal): Promise<MigrationOutcome> {
    const inst = await this.getInstance(id);
    authorize(principal, inst, P.instancesManage, P.instancesReadAll);
    const definition = (await this.s.store.getDefinition(inst.definitionId)) ?? fail('NotFound', `The definition of instance ${id} no longer exists.`);
    const v = req.toVersion ?? definition.publishedVersion ?? fail('DefinitionNotPublished', `Definition ${definition.id} has no published version to migrate to.`);
    const to = await this.version(definition.id, v);
    const ctx = this.engineContext();
    let effects: Effect[] = [];
    let event: StagedEvent | null = null;
    const outcome = await this.withVersion(id, (current, from) => {
      authorize(principal, current, P.instancesManage, P.instancesReadAll);
      const t = migrateInstance(current, from, to, req.mapping, actorOf(principal), ctx);
      effects = t.effects;
      const result: MigrationOutcome = {
        instanceId: id,
        fromVersion: from.version,
        toVersion: to.version,
        fromStep: current.currentStep,
        toStep: t.instance.currentStep,
        status: t.instance.status,
        statusMessage: t.instance.statusMessage,
        carried: current.signals.filter((s) => s.step === current.currentStep).length,
        dryRun: req.dryRun,
      };
      if (req.dryRun) return { transition: null, result };
      event = stageEvent(this.events, 'instance.migrated', {
        instanceId: id,
        fromVersion: result.fromVersion,
        toVersion: result.toVersion,
        status: result.status,
        by: principal.identity.accountName,
      });
      return { transition: t, result, audit: event.audit };
    });
    if (!req.dryRun) {
      this.effectSink(effects);
      (event as StagedEvent | null)?.done();
    }
    return outcome;
  }

  /** Migrate for every Suspended instance of a definition on an older version; a result per instance. */
  async migrateAll(
    definitionId: string,
    req: MigrationRequest & { fromVersion: number | null },
    principal: Principal,
  ): Promise<(MigrationOutcome | { instanceId: string; error: CountersignError })[]> {
    const definition = (await this.s.store.getDefinition(definitionId)) ?? fail('NotFound', `No workflow definition has Id ${definitionId}.`);
    const filter = bindQuery(parseQuery(`DefinitionId -eq "${definition.id}" AND Status -eq 2`), INSTANCE_FIELDS);
    const out: (MigrationOutcome | { instanceId: string; error: CountersignError })[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await this.s.store.queryInstances({ filter, limit: 500, offset, sortColumn: 'reference_id', ascending: true });
      for (const i of page) {
        if (req.fromVersion !== null && i.definitionVersion !== req.fromVersion) continue;
        if (req.toVersion !== null && i.definitionVersion >= req.toVersion) continue;
        if (req.toVersion === null && definition.publishedVersion !== null && i.definitionVersion >= definition.publishedVersion) continue;
        try {
          out.push(await this.migrate(i.id, req, principal));
        } catch (e) {
          if (!(e instanceof CountersignError)) throw e;
          out.push({ instanceId: i.id, error: e });
        }
      }
      // Migrated instances stay Suspended (still matching): a dry run or refusals keep the offset moving.
      if (page.length < 500 || out.length > 100_000) return out;
    }
  }

  async stop(id: string, principal: Principal): Promise<void> {
    const ctx = this.engineContext();
    const event = stageEvent(this.events, 'instance.stopped', { instanceId: id, by: principal.identity.accountName });
    await this.s.store.mutateInstance(id, (current) => {
      authorize(principal, current, P.instancesManage);
      return { transition: stopInstance(current, actorOf(principal), ctx), result: null, audit: event.audit };
    });
    event.done();
  }

  /** Cancels the old instance and starts a new one (new Id, same data and title) in one transaction. */
  async restart(id: string, requestedVersion: number | null, principal: Principal): Promise<string> {
    const inst = await this.getInstance(id);
    authorize(principal, inst, P.instancesManage, P.instancesReadAll);
    const definition = (await this.s.store.getDefinition(inst.definitionId)) ?? fail('NotFound', `The definition of instance ${id} no longer exists.`);
    const v = requestedVersion ?? definition.publishedVersion ?? fail('DefinitionNotPublished', `Definition ${definition.id} has no published version to restart on.`);
    const version = await this.version(definition.id, v);
    if (!version.frozen) fail('ValidationFailed', `Version ${v} of definition ${definition.id} has never been published; restart on a published version.`);
    const ctx = this.engineContext();
    const newId = this.s.newId();
    const actor = actorOf(principal);
    let effects: Effect[] = [];
    const event = stageEvent(this.events, 'instance.restarted', { instanceId: id, newInstanceId: newId, version: v, by: principal.identity.accountName });
    await this.s.store.mutateInstance(id, (current) => {
      authorize(principal, current, P.instancesManage, P.instancesReadAll);
      return {
        audit: event.audit,
        transition: cancelForRestart(current, newId, actor, ctx),
        spawn: (referenceId) => {
          const t = startInstance(
            {
              id: newId,
              referenceId,
              definition,
              version,
              title: current.title,
              initialData: current.initialData,
              trustedData: current.trustedData,
              initiator: current.initiatorId === null ? null : { identityId: current.initiatorId, accountName: current.initiatorName ?? '' },
              restartedFrom: current.id,
            },
            ctx,
          );
          effects = t.effects;
          return t;
        },
        result: null,
      };
    });
    this.effectSink(effects);
    event.done();
    return newId;
  }

  /**
   * A finished instance, or a Running one (an automatic step may be stuck: an operator must
   * always be able to get rid of it; its jobs go with it, and a run in flight finds it gone).
   * A Suspended instance waits for people, who were asked to act: Stop it first (it ends Rejected).
   */
  async deleteInstance(id: string, principal: Principal): Promise<void> {
    // The entry is written with the delete (the audit outbox): an acknowledged delete always has it.
    const event = stageEvent(this.events, 'instance.deleted', { instanceId: id, by: principal.identity.accountName });
    await this.s.store.deleteInstance(
      id,
      (inst) => {
        authorize(principal, inst, P.instancesManage);
        if (!isTerminal(inst.status) && inst.status !== 'Running')
          fail('InstanceNotTerminal', `Instance ${id} is ${inst.status}; approvers are waiting on it. Stop it first (it ends Rejected), then delete it.`);
      },
      event.audit,
    );
    event.done();
  }

  /** The reconciler's unit of work: advance one suspended instance whose signals already decide it. */
  async reconcileOne(id: string): Promise<boolean> {
    const ctx = this.engineContext();
    const t = await this.withVersion(id, (current, version) => {
      const r = reconcile(current, version, ctx);
      return { transition: r, result: r };
    }).catch((e) => {
      if (e instanceof CountersignError && e.errorName === 'NotFound') return null;
      throw e;
    });
    if (t) this.effectSink(t.effects);
    return t !== null;
  }

  /** Feeds an automatic step's result back, completing its job in the same transaction. */
  async completeStep(job: Job, owner: string, result: RunOutcome): Promise<void> {
    const ctx = this.engineContext();
    const t = await this.withVersion(job.instanceId, (current, version) => {
      const r = completeRun(current, version, { step: job.effect.step, ...result }, ctx);
      return { transition: r, completeJob: { id: job.id, owner }, result: r };
    });
    if (t) this.effectSink(t.effects);
  }

  /** A due timer fires inside the transaction that completes its job: once, on one node. */
  async fireTimer(job: Job, owner: string): Promise<void> {
    const effect = job.effect;
    if (effect.type !== 'timer') fail('Internal', `Job ${job.id} is not a timer.`);
    const ctx = this.engineContext();
    const t = await this.withVersion(job.instanceId, (current, version) => {
      const r = fireTimer(current, version, effect as Extract<typeof effect, { type: 'timer' }>, ctx);
      return { transition: r, completeJob: { id: job.id, owner }, result: r };
    });
    if (t) this.effectSink(t.effects);
  }

  /** Records in the history what became of a notification, completing its job. */
  async noteNotification(job: Job, owner: string, note: { kind: 'Notified' | 'NotificationFailed'; message: string; data?: JsonObject }): Promise<void> {
    const ctx = this.engineContext();
    const step = job.effect.step;
    await this.s.store.mutateInstance(job.instanceId, (current) => ({ transition: addNote(current, { ...note, step }, ctx), completeJob: { id: job.id, owner }, result: null }));
  }

  /** Who holds each role now (direct members and User claims), for decisions that count eligible people; disabled roles hold no one. */
  private async membersByRole(roleIds: number[]): Promise<Record<number, number[]>> {
    const out: Record<number, number[]> = {};
    for (const roleId of roleIds) {
      const role = await this.s.store.getRole(roleId);
      if (!role?.enabled) {
        out[roleId] = [];
        continue;
      }
      out[roleId] = (await roleMembers(this.s.store, role)).map((i) => i.id);
    }
    return out;
  }

  async version(definitionId: string, v: number): Promise<DefinitionVersion> {
    const key = `${definitionId}:${v}`;
    const cached = this.versions.get(key);
    if (cached) return cached;
    const found = (await this.s.store.getVersion(definitionId, v)) ?? fail('NotFound', `Workflow definition ${definitionId} has no version ${v}.`);
    if (found.frozen) this.versions.set(key, found);
    return found;
  }
}

/** Whether `actor` holds a role the suspended instance waits on and is not barred from it. */
const acts = (actor: Actor, i: Instance): boolean =>
  i.status === 'Suspended' && actor.roleIds.some((r) => i.pendingRoleIds.includes(r)) && !i.pendingExcludedIds.includes(actor.identityId);

/**
 * Who a signal is recorded for: the caller when they may act (unless they name someone they act
 * for); else the delegator the caller already decided for (so a repeat is counted once), else the
 * first who may act and has not decided yet; else the caller, whom the engine then refuses with the reason.
 */
function chooseActor(p: Principal, i: Instance, via: Actor[], actingFor: string | null): Actor {
  const self = actorOf(p);
  if (actingFor !== null) {
    if (actingFor.toLowerCase() === p.identity.accountName.toLowerCase()) return self;
    return (
      via.find((d) => d.accountName.toLowerCase() === actingFor.toLowerCase()) ??
      fail('Forbidden', `${p.identity.accountName} may not act for ${actingFor} on this step: no delegation in force gives them a role it waits on.`)
    );
  }
  if (acts(self, i)) return self;
  const eligible = via.filter((d) => acts(d, i));
  // The seat this caller already decided for (a repeat is then counted once), else one undecided.
  const sender = { identityId: p.identity.id, accountName: p.identity.accountName };
  return (
    eligible.find((d) => i.signals.some((s) => s.identityId === d.identityId && sentBy(s, sender))) ??
    eligible.find((d) => !i.signals.some((s) => s.identityId === d.identityId)) ??
    eligible[0] ??
    self
  );
}

const stripUndefined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
