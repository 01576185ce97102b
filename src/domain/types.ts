import type { InstanceStatusName } from './status.ts';

/** JSON value as stored in data buckets and configuration. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface SignalConfig {
  name: string;
  roleIds: number[];
  roleTokens: string[];
}

export interface StepCondition {
  id: string;
  value: string;
}

export interface StepDef {
  id: string;
  extensionName: string;
  uniqueName: string;
  displayName: string;
  enabled: boolean;
  config: JsonObject;
  signals: SignalConfig[];
  conditions: StepCondition[];
  /** output name -> UniqueName of the next step */
  outputs: Record<string, string>;
}

export interface DefinitionKey {
  value: string;
  displayName: string | null;
}

/** Version-independent header of a definition. */
export interface Definition {
  id: string;
  displayName: string;
  description: string | null;
  workflowType: string;
  keys: DefinitionKey[];
  enabled: boolean;
  draftVersion: number;
  publishedVersion: number | null;
  createdAt: string;
  lastModified: string;
}

/** One immutable-once-published version of a definition's step list. */
export interface DefinitionVersion {
  definitionId: string;
  version: number;
  steps: StepDef[];
  /** Set once the version has been published: from then on it never changes. */
  frozen: boolean;
}

/** Someone who acts: a signed-in identity with the roles it holds. */
export interface Actor {
  identityId: number;
  accountName: string;
  roleIds: number[];
  /** Who actually sent it, acting for this identity under a delegation (docs/approvals.md#delegation). */
  delegate?: { identityId: number; accountName: string };
}

/** A signal as recorded against the step visit it was given on. */
export interface RecordedSignal {
  step: string;
  signal: string;
  identityId: number;
  accountName: string;
  data: JsonObject;
  at: string;
  /** The delegate who sent it acting for accountName, when it was sent under a delegation. */
  by?: string;
  /** That delegate's identity (recorded since one person may make only one decision per step). */
  byIdentityId?: number;
}

/** Variables and metadata written by steps, kept apart from what the requester sent. */
export interface StepOutputs {
  variables: JsonObject;
  metadata: JsonObject;
  /** Who decided each step already left (identity ids by step UniqueName): "exclude earlier deciders". */
  deciders?: Record<string, number[]>;
}

export interface Instance {
  id: string;
  referenceId: number;
  definitionId: string;
  definitionVersion: number;
  definitionName: string;
  workflowType: string;
  status: InstanceStatusName;
  statusMessage: string | null;
  /** UniqueName of the step where the instance is (or last was). */
  currentStep: string | null;
  currentStepId: string | null;
  currentStepDisplayName: string | null;
  title: string | null;
  initiatorId: number | null;
  initiatorName: string | null;
  /** What the caller sent when starting the instance: untrusted (docs/security/trust.md). */
  initialData: JsonObject;
  /** Initial data merged with step variables: what CurrentStateData shows and tokens read. */
  stateData: JsonObject;
  /** Metadata of the instance's subject, read by $(metadata:Name). */
  metadata: JsonObject;
  /**
   * Values the server set when starting the instance (the requester's identity; for enrollment,
   * template, CA and request id): trusted, and never changed afterwards.
   */
  trustedData: JsonObject;
  /** What steps wrote (variables, metadata): trusted, because the definition's author decided it. */
  stepOutputs: StepOutputs;
  /** Signals received at the current step visit; cleared when the step is left. */
  signals: RecordedSignal[];
  /** Role ids that may signal the current step (denormalised for AssignedToMe). */
  pendingRoleIds: number[];
  /**
   * Identities that may not act on the current step even with one of its roles (the initiator,
   * unless the step allows self-approval); denormalised for AssignedToMe.
   */
  pendingExcludedIds: number[];
  startDate: string;
  lastModified: string;
  restartedFrom: string | null;
  restartedTo: string | null;
  /** Optimistic version, incremented on every write. */
  rev: number;
}

export type HistoryKind =
  | 'Started'
  | 'StepEntered'
  | 'StepSkipped'
  | 'StepCompleted'
  | 'Suspended'
  | 'SignalReceived'
  | 'SignalRepeated'
  | 'Approved'
  | 'Rejected'
  | 'Completed'
  | 'Failed'
  | 'Stopped'
  | 'Restarted'
  | 'RestartedFrom'
  | 'Reconciled'
  | 'Reminded'
  | 'Escalated'
  | 'Reassigned'
  | 'Migrated'
  | 'TimedOut'
  | 'Notified'
  | 'NotificationFailed';

export interface HistoryEntry {
  at: string;
  kind: HistoryKind;
  step: string | null;
  actor: string | null;
  message: string;
  data: JsonObject | null;
}
