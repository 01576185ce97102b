import { InstanceStatus, STATUS_NAMES, type InstanceStatusCode } from '../domain/status.ts';
import type { Instance } from '../domain/types.ts';

/*
 * The instances table's row shape, shared by both stores: snake_case columns, the status as its
 * number, JSON columns as JSON text. Only how JSON comes back differs (text in SQLite, already
 * parsed jsonb in PostgreSQL), so reading takes that one function.
 */

export const INSTANCE_COLUMNS = [
  'id',
  'reference_id',
  'definition_id',
  'definition_version',
  'definition_name',
  'workflow_type',
  'status',
  'status_message',
  'current_step',
  'current_step_id',
  'current_step_display_name',
  'title',
  'initiator_id',
  'initiator_name',
  'initial_data',
  'state_data',
  'metadata',
  'trusted_data',
  'step_outputs',
  'signals',
  'pending_role_ids',
  'pending_excluded_ids',
  'start_date',
  'last_modified',
  'restarted_from',
  'restarted_to',
  'rev',
] as const;

export type InstanceColumn = (typeof INSTANCE_COLUMNS)[number];

/** The columns a transition may change (InitialData, trusted data and the identity columns never do). */
export const CHANGED_COLUMNS = [
  // Migrate (docs/approvals.md) moves a waiting instance to a newer version of its definition.
  'definition_version',
  'status',
  'status_message',
  'current_step',
  'current_step_id',
  'current_step_display_name',
  'title',
  'state_data',
  'metadata',
  'step_outputs',
  'signals',
  'pending_role_ids',
  'pending_excluded_ids',
  'last_modified',
  'restarted_to',
  'rev',
] as const satisfies readonly InstanceColumn[];

export function instanceRow(i: Instance): Record<InstanceColumn, unknown> {
  return {
    id: i.id,
    reference_id: i.referenceId,
    definition_id: i.definitionId,
    definition_version: i.definitionVersion,
    definition_name: i.definitionName,
    workflow_type: i.workflowType,
    status: InstanceStatus[i.status],
    status_message: i.statusMessage,
    current_step: i.currentStep,
    current_step_id: i.currentStepId,
    current_step_display_name: i.currentStepDisplayName,
    title: i.title,
    initiator_id: i.initiatorId,
    initiator_name: i.initiatorName,
    initial_data: JSON.stringify(i.initialData),
    state_data: JSON.stringify(i.stateData),
    metadata: JSON.stringify(i.metadata),
    trusted_data: JSON.stringify(i.trustedData),
    step_outputs: JSON.stringify(i.stepOutputs),
    signals: JSON.stringify(i.signals),
    pending_role_ids: JSON.stringify(i.pendingRoleIds),
    pending_excluded_ids: JSON.stringify(i.pendingExcludedIds),
    start_date: i.startDate,
    last_modified: i.lastModified,
    restarted_from: i.restartedFrom,
    restarted_to: i.restartedTo,
    rev: i.rev,
  };
}

/** Only the columns a transition may change, plus the id (for UPDATE ... WHERE id). */
export function changedRow(i: Instance): Record<string, unknown> {
  const row = instanceRow(i);
  return Object.fromEntries((['id', ...CHANGED_COLUMNS] as const).map((c) => [c, row[c]]));
}

export function instanceFromRow(r: Record<string, unknown>, json: (v: unknown) => any): Instance {
  const text = (v: unknown): string | null => (v as string | null | undefined) ?? null;
  return {
    id: r.id as string,
    referenceId: Number(r.reference_id),
    definitionId: r.definition_id as string,
    definitionVersion: r.definition_version as number,
    definitionName: r.definition_name as string,
    workflowType: r.workflow_type as string,
    status: STATUS_NAMES[r.status as InstanceStatusCode],
    statusMessage: text(r.status_message),
    currentStep: text(r.current_step),
    currentStepId: text(r.current_step_id),
    currentStepDisplayName: text(r.current_step_display_name),
    title: text(r.title),
    initiatorId: (r.initiator_id as number | null) ?? null,
    initiatorName: text(r.initiator_name),
    initialData: json(r.initial_data),
    stateData: json(r.state_data),
    metadata: json(r.metadata),
    trustedData: json(r.trusted_data),
    stepOutputs: json(r.step_outputs),
    signals: json(r.signals),
    pendingRoleIds: json(r.pending_role_ids),
    pendingExcludedIds: json(r.pending_excluded_ids),
    startDate: r.start_date as string,
    lastModified: r.last_modified as string,
    restartedFrom: text(r.restarted_from),
    restartedTo: text(r.restarted_to),
    rev: r.rev as number,
  };
}
