import { createHash } from 'node:crypto';
import { fail } from '../domain/errors.ts';
import { InstanceStatus } from '../domain/status.ts';
import type { Definition, DefinitionVersion, HistoryEntry, Instance, Json, JsonObject, StepDef } from '../domain/types.ts';
import type { StepRegistry } from '../domain/step-registry.ts';
import type { ParamDecl, ParamType, StepType } from '../domain/step-type.ts';
import { asArray, asObject, bool, field, str } from './wire.ts';
import type { InstanceResponse } from './schema/keyfactor.generated.ts';

/*
 * Keyfactor wire shapes (PascalCase) <-> domain objects. Responses carry exactly the properties
 * the contract declares (its v25 schemas forbid others), with explicit nulls.
 */

// Definitions --------------------------------------------------------------------------------------

export function definitionV1(d: Definition, v: DefinitionVersion, registry: StepRegistry) {
  return {
    Id: d.id,
    DisplayName: d.displayName,
    Description: d.description,
    Key: d.keys[0]?.value ?? null,
    KeyDisplayName: d.keys[0]?.displayName ?? null,
    IsPublished: d.publishedVersion !== null,
    WorkflowType: d.workflowType,
    Steps: v.steps.map((s) => stepV1(s, registry)),
    DraftVersion: d.draftVersion,
    PublishedVersion: d.publishedVersion,
    Enabled: d.enabled,
  };
}

export function definitionV2(d: Definition, v: DefinitionVersion, registry: StepRegistry, roleNames: Map<number, string>) {
  return {
    Id: d.id,
    DisplayName: d.displayName,
    Description: d.description,
    WorkflowType: d.workflowType,
    Keys: d.keys.map((k) => ({ DisplayName: k.displayName, Value: k.value })),
    Enabled: d.enabled,
    IsPublished: d.publishedVersion !== null,
    Steps: v.steps.map((s) => ({
      ...stepV1(s, registry),
      Signals: s.signals.map((g) => ({
        SignalName: g.name,
        Roles: g.roleIds.map((id) => ({ RoleId: String(id), RoleName: roleNames.get(id) ?? null })),
        RoleTokens: g.roleTokens,
      })),
    })),
    DraftVersion: d.draftVersion,
    PublishedVersion: d.publishedVersion,
  };
}

export const definitionQueryV1 = (d: Definition) => ({
  Id: d.id,
  DisplayName: d.displayName,
  Key: d.keys[0]?.value ?? null,
  KeyDisplayName: d.keys[0]?.displayName ?? null,
  WorkflowType: d.workflowType,
  DraftVersion: d.draftVersion,
  PublishedVersion: d.publishedVersion,
  Enabled: d.enabled,
});

export const definitionQueryV2 = (d: Definition) => ({
  Id: d.id,
  DisplayName: d.displayName,
  Description: d.description,
  Keys: d.keys.map((k) => ({ DisplayName: k.displayName, Value: k.value })),
  WorkflowType: d.workflowType,
  DraftVersion: d.draftVersion,
  PublishedVersion: d.publishedVersion,
  Enabled: d.enabled,
});

export function stepV1(s: StepDef, registry: StepRegistry) {
  return {
    Id: s.id,
    DisplayName: s.displayName,
    UniqueName: s.uniqueName,
    ExtensionName: s.extensionName,
    Enabled: s.enabled,
    ConfigurationParameters: maskSecrets(s.config, registry.get(s.extensionName)),
    Signals: s.signals.map((g) => ({ SignalName: g.name, RoleIds: g.roleIds, RoleTokens: g.roleTokens })),
    Conditions: s.conditions.map((c) => ({ Id: c.id, Value: c.value })),
    Outputs: s.outputs,
  };
}

/** Secrets are write-only: a stored secret reads back as null. */
function maskSecrets(config: JsonObject, type: StepType | undefined): JsonObject {
  if (!type) return config;
  const out = { ...config };
  for (const [name, decl] of Object.entries(type.parameters)) if (decl.secret && name in out) out[name] = null;
  return out;
}

/** Reads a PUT Steps body into domain steps, with new ids; 400 names the step and field. */
export function readSteps(body: unknown, newId: () => string): StepDef[] {
  return asArray(body, 'The PUT Steps body (the complete list of steps)').map((raw, i) => {
    const o = asObject(raw, `Steps[${i}]`);
    const at = `Steps[${i}]`;
    const uniqueName = str(o, 'UniqueName', { required: true, nonEmpty: true }) as string;
    const where = `${at} ('${uniqueName}')`;
    const signals = field(o, 'Signals') ?? [];
    const conditions = field(o, 'Conditions') ?? [];
    const outputs = field(o, 'Outputs') ?? {};
    const config = field(o, 'ConfigurationParameters') ?? {};
    return {
      id: newId(),
      extensionName: within(where, () => str(o, 'ExtensionName', { required: true, nonEmpty: true }) as string),
      uniqueName,
      displayName: within(where, () => str(o, 'DisplayName') ?? uniqueName),
      enabled: within(where, () => bool(o, 'Enabled') ?? true),
      config: asObject(config, `${where}.ConfigurationParameters`),
      signals: asArray(signals, `${where}.Signals`).map((g, j) => readSignal(g, `${where}.Signals[${j}]`)),
      conditions: asArray(conditions, `${where}.Conditions`).map((c, j) => {
        const co = asObject(c, `${where}.Conditions[${j}]`);
        return { id: newId(), value: within(`${where}.Conditions[${j}]`, () => str(co, 'Value', { required: true }) as string) };
      }),
      outputs: readOutputs(outputs, `${where}.Outputs`),
    };
  });
}

function readSignal(raw: Json, at: string) {
  const o = asObject(raw, at);
  const roleIds = field(o, 'RoleIds') ?? [];
  const roleTokens = field(o, 'RoleTokens') ?? [];
  if (!Array.isArray(roleIds) || !roleIds.every((r) => Number.isInteger(r))) fail('ValidationFailed', `${at}.RoleIds must be a list of integer role ids.`);
  if (!Array.isArray(roleTokens) || !roleTokens.every((r) => typeof r === 'string')) fail('ValidationFailed', `${at}.RoleTokens must be a list of strings.`);
  return { name: within(at, () => str(o, 'SignalName', { required: true, nonEmpty: true }) as string), roleIds: roleIds as number[], roleTokens: roleTokens as string[] };
}

function readOutputs(raw: Json, at: string): Record<string, string> {
  const o = asObject(raw, at);
  for (const [k, v] of Object.entries(o)) if (typeof v !== 'string') fail('ValidationFailed', `${at}.${k} must be the UniqueName of a step.`);
  return o as Record<string, string>;
}

/** Prefixes a validation message with where it happened. */
function within<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && 'errorName' in e) (e as Error).message = `${where}: ${(e as Error).message}`;
    throw e;
  }
}

// Step catalogue -----------------------------------------------------------------------------------

/** Our numbering of Keyfactor's unpublished DataType and InputControlType enums (docs/compatibility.md). */
export const DATA_TYPE: Record<ParamType, number> = { string: 0, integer: 1, boolean: 2, stringList: 3, stringMap: 4, stringListMap: 5, object: 6, html: 7 };
export const CONTROL_TYPE = { TextBox: 0, TextArea: 1, CheckBox: 2, DropDown: 3, MultiValue: 4, KeyValue: 5, HtmlEditor: 6, Secret: 7, Number: 8 } as const;

function controlType(p: ParamDecl): number {
  if (p.secret) return CONTROL_TYPE.Secret;
  if (p.potentialValues) return CONTROL_TYPE.DropDown;
  const byType: Record<ParamType, number> = {
    string: CONTROL_TYPE.TextBox,
    html: CONTROL_TYPE.HtmlEditor,
    integer: CONTROL_TYPE.Number,
    boolean: CONTROL_TYPE.CheckBox,
    stringList: CONTROL_TYPE.MultiValue,
    stringMap: CONTROL_TYPE.KeyValue,
    stringListMap: CONTROL_TYPE.KeyValue,
    object: CONTROL_TYPE.TextArea,
  };
  return byType[p.type];
}

export function parameterDefinition(p: ParamDecl) {
  return {
    DisplayName: p.displayName,
    ParameterType: DATA_TYPE[p.type],
    Required: p.required ?? false,
    DefaultValue: p.default === undefined || p.default === null ? null : typeof p.default === 'string' ? p.default : JSON.stringify(p.default),
    ControlType: controlType(p),
    PotentialValues: p.potentialValues ?? null,
    SupportTokenReplacement: p.tokens ?? false,
    DependsOn: null,
    ToolTipContents: p.tooltip ?? null,
    QueryEndpoint: null,
    QueryFieldName: null,
    QueryGroupBy: null,
  };
}

const mapValues = <T, U>(o: Record<string, T>, f: (v: T) => U): Record<string, U> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

const stepDefinitions = (t: StepType) => ({
  ConfigurationParametersDefinition: mapValues(t.parameters, parameterDefinition),
  SignalsDefinition: mapValues(t.signals, (inputs) => ({ InputParameters: mapValues(inputs, parameterDefinition) })),
});

export const supportedTypes = (t: StepType, all: readonly string[]): string[] => (t.workflowTypes === 'all' ? [...all] : t.workflowTypes);

export const availableStep = (t: StepType) => ({ DisplayName: t.displayName, ExtensionName: t.extensionName, Outputs: t.outputs, ...stepDefinitions(t) });

export const availableStepQuery = (t: StepType, all: readonly string[]) => ({
  DisplayName: t.displayName,
  ExtensionName: t.extensionName,
  SupportedWorkflowTypes: supportedTypes(t, all),
  ...stepDefinitions(t),
});

// Instances ----------------------------------------------------------------------------------------

// The fields both instance shapes share, in Keyfactor's order: its state first, then what it runs.
const instanceState = (i: Instance) => ({
  Id: i.id,
  Status: InstanceStatus[i.status],
  CurrentStepId: i.currentStepId ?? '00000000-0000-0000-0000-000000000000',
  StatusMessage: i.statusMessage,
});

const instanceSubject = (i: Instance) => ({
  Definition: { Id: i.definitionId, DisplayName: i.definitionName, Version: i.definitionVersion, WorkflowType: i.workflowType },
  CurrentStepDisplayName: i.currentStepDisplayName,
  CurrentStepUniqueName: i.currentStep,
  Title: i.title,
  LastModified: i.lastModified,
  StartDate: i.startDate,
});

export function instanceQuery(i: Instance) {
  return { ...instanceState(i), ...instanceSubject(i), ReferenceId: i.referenceId };
}

/** A stable id for a step's signal: derived, so it needs no storage and never changes. */
export function stepSignalId(stepId: string, signal: string): string {
  const h = createHash('sha1').update(`${stepId}/${signal}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function instanceV1(i: Instance, version: DefinitionVersion | null, history?: HistoryEntry[]) {
  const step = version?.steps.find((s) => s.uniqueName === i.currentStep);
  const waiting = i.status === 'Suspended' && step;
  // Keyfactor's InstanceResponse (the generated wire type): the compiler holds the answer to it.
  const body: InstanceResponse = {
    ...instanceState(i),
    Signals: waiting
      ? step.signals.map((g) => ({ SignalName: g.name, StepSignalId: stepSignalId(step.id, g.name), SignalReceived: i.signals.some((r) => r.signal === g.name) }))
      : [],
    ...instanceSubject(i),
    InitialData: i.initialData,
    CurrentStateData: i.stateData,
    ReferenceId: i.referenceId,
  };
  return history
    ? {
        ...body,
        History: history.map(historyEntry),
        ReceivedSignals: i.signals.map(receivedSignal),
        Metadata: i.metadata,
        RestartedFrom: i.restartedFrom,
        RestartedTo: i.restartedTo,
      }
    : body;
}

const historyEntry = (h: HistoryEntry) => ({ At: h.at, Kind: h.kind, Step: h.step, Actor: h.actor, Message: h.message, Data: h.data });

const receivedSignal = (s: Instance['signals'][number]) => ({ Step: s.step, SignalName: s.signal, AccountName: s.accountName, Data: s.data, At: s.at });
