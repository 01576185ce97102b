import { api, type DefinitionV2, type InstanceDetail, type InstanceRow, type StepV2 } from './api.ts';
import { approvalCount, type ApprovalCount } from './approvals.ts';

/*
 * Per-instance facts the list endpoints do not carry (requester, approvals still needed), read
 * from the instance and its definition version, and cached: an instance by its LastModified, a
 * definition version for good (instances run on published versions, which never change).
 */

const details = new Map<string, Promise<InstanceDetail>>();
const versions = new Map<string, Promise<DefinitionV2 | null>>();

function cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    if (map.size > 500) map.clear();
    p = load();
    map.set(key, p);
    p.catch(() => map.delete(key));
  }
  return p;
}

export const detailOf = (row: Pick<InstanceRow, 'Id' | 'LastModified'>): Promise<InstanceDetail> => cached(details, `${row.Id}:${row.LastModified}`, () => api.instance(row.Id));

/** The definition version an instance runs on, with role names (API version 2); null if not readable. */
export const definitionVersionOf = (definitionId: string, version: number): Promise<DefinitionV2 | null> =>
  cached(versions, `${definitionId}:${version}`, () => api.definitionV2(definitionId, version).catch(() => null));

export function requesterOf(d: InstanceDetail): string | null {
  const started = d.History?.find((h) => h.Kind === 'Started');
  if (started?.Actor) return started.Actor;
  const r = d.InitialData?.requester;
  return typeof r === 'string' ? r : null;
}

export function stepOf(def: DefinitionV2 | null, uniqueName: string | null): StepV2 | null {
  if (!def || !uniqueName) return null;
  return def.Steps.find((s) => s.UniqueName === uniqueName) ?? null;
}

export interface Enriched {
  requester: string | null;
  approvals: ApprovalCount | null;
}

export async function enrich(row: InstanceRow, canReadDefinitions: boolean): Promise<Enriched> {
  const d = await detailOf(row);
  let approvals = approvalCount(d.StatusMessage, null, null);
  if (!approvals && canReadDefinitions) {
    const step = stepOf(await definitionVersionOf(d.Definition.Id, d.Definition.Version), d.CurrentStepUniqueName);
    if (step) approvals = approvalCount(d.StatusMessage, { uniqueName: step.UniqueName, config: step.ConfigurationParameters }, d.History ?? []);
  }
  return { requester: requesterOf(d), approvals };
}
