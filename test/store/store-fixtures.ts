import { randomUUID } from 'node:crypto';
import type { Effect, Transition } from '../../src/domain/engine.ts';
import { bindQuery, parseQuery, type FieldSpec } from '../../src/domain/query/index.ts';
import type { Definition, DefinitionVersion, HistoryEntry, Instance } from '../../src/domain/types.ts';
import type { NewCertificate } from '../../src/store/certificate-store.ts';
import type { InstanceQuery, Store } from '../../src/store/store.ts';

/* Rows and queries for the store contract tests (store-contract*.test.ts). */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const T0 = '2025-03-01T10:00:00.000Z';

export function definition(over: Partial<Definition> = {}): Definition {
  return {
    id: randomUUID(),
    displayName: 'Def',
    description: null,
    workflowType: 'Enrollment',
    keys: [{ value: 'tmpl', displayName: null }],
    enabled: true,
    draftVersion: 1,
    publishedVersion: null,
    createdAt: T0,
    lastModified: T0,
    ...over,
  };
}

export const version = (def: Definition, v = 1): DefinitionVersion => ({ definitionId: def.id, version: v, steps: [], frozen: false });

export function instance(ref: number, over: Partial<Instance> = {}): Instance {
  return {
    id: randomUUID(),
    referenceId: ref,
    definitionId: 'def-1',
    definitionVersion: 1,
    definitionName: 'Def',
    workflowType: 'Enrollment',
    status: 'Suspended',
    statusMessage: 'Waiting',
    currentStep: 'Approve',
    currentStepId: 'step-1',
    currentStepDisplayName: 'Approve',
    title: 'Request',
    initiatorId: 1,
    initiatorName: 'alice',
    initialData: { cn: 'www.example.com' },
    stateData: {},
    metadata: {},
    signals: [],
    pendingRoleIds: [7],
    pendingExcludedIds: [],
    trustedData: {},
    stepOutputs: { variables: {}, metadata: {} },
    startDate: T0,
    lastModified: T0,
    restartedFrom: null,
    restartedTo: null,
    rev: 0,
    ...over,
  };
}

export const note = (message: string, at = T0): HistoryEntry => ({ at, kind: 'StepEntered', step: 'Approve', actor: null, message, data: { n: 1 } });

export const started = (inst: Instance, effects: Effect[] = []): Transition => ({ instance: inst, history: [note('started', inst.startDate)], effects });

export const runStep = (instanceId: string): Effect => ({ type: 'runStep', instanceId, step: 'Auto', stepId: 'step-2' });

export const bound = (text: string, fields: FieldSpec[]) => bindQuery(parseQuery(text), fields);

export const query = (over: Partial<InstanceQuery> = {}): InstanceQuery => ({ filter: null, limit: 100, offset: 0, sortColumn: 'reference_id', ascending: true, ...over });

/** Creates an instance (built from `over`) through the store, with the effects its id gives. */
export const createIn = (store: Store, over: Partial<Instance> = {}, effects?: (id: string) => Effect[]) =>
  store.createInstance((ref) => {
    const inst = instance(ref, over);
    return started(inst, effects?.(inst.id));
  });

let certificateSerial = 0x1000;
/** A certificate row to record, with a thumbprint and serial number of its own (both stores' contract tests). */
export function newCertificate(caId = 1, over: Partial<NewCertificate> = {}): NewCertificate {
  certificateSerial += 1;
  const n = certificateSerial.toString(16).toUpperCase();
  return {
    requestId: null,
    thumbprint: `AB${n}`,
    serialNumber: `7F${n}`,
    issuerDn: 'CN=Issuing',
    issuedDn: 'CN=leaf',
    issuedCn: 'leaf',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    importDate: '2026-01-01T00:00:00.000Z',
    templateId: null,
    caId,
    requesterId: null,
    requesterName: null,
    keyType: 'ECC',
    keySize: 256,
    der: new Uint8Array([0x30, 0x00]),
    metadata: {},
    sealedKey: null,
    ...over,
  };
}
