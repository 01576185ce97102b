import { call } from './api.ts';

/* The approval extensions beyond Keyfactor (docs/approvals.md): Explain, bulk decisions, delegation, migration. */

export interface Explanation {
  InstanceId: string;
  StatusName: string;
  Reason: string;
  Step: { UniqueName: string; DisplayName: string; ExtensionName: string } | null;
  Wait: {
    Summary: string;
    Counts: { Name: string; Required: number; Received: number }[];
    Decisions: { AccountName: string; Decision: string; Comment: string | null; At: string }[];
    Barred: { IdentityIds: number[]; Reason: string } | null;
    Deadlines: { Kind: string; At: string; Action: string }[];
  } | null;
  MayAct: { Roles: { Id: number; Name: string }[]; Identities: { Id: number; AccountName: string }[] } | null;
  Failure: { Step: string | null; LastError: string; At: string | null; NextRetry: string | null; Attempts: number | null } | null;
}

export interface BulkResult {
  InstanceId: string;
  Succeeded: boolean;
  Outcome?: { Outcome: string; StatusName: string };
  Error?: { ErrorCode: string; Message: string };
}

export interface Delegation {
  Id: number;
  Delegator: string;
  Delegate: string;
  Start: string;
  End: string;
  Comment: string | null;
}

export interface MigrationResult {
  InstanceId: string;
  Succeeded?: boolean;
  DryRun?: boolean;
  FromVersion?: number;
  ToVersion?: number;
  FromStep?: string | null;
  ToStep?: string | null;
  StatusName?: string;
  StatusMessage?: string | null;
  DecisionsCarried?: number;
  Error?: { Message: string };
}

const enc = encodeURIComponent;

export const approvalsApi = {
  explain: async (id: string) => (await call<Explanation>('GET', `/Workflow/Instances/${enc(id)}/Explain`)).data,
  bulkApprove: async (items: { id: string; step: string }[], comment: string) =>
    (
      await call<{ Results: BulkResult[] }>('POST', '/Workflow/Instances/BulkSignals', {
        body: { Items: items.map((i) => ({ InstanceId: i.id, SignalKey: `${i.step}.ApprovalStatus`, Data: { Approved: true, Comment: comment === '' ? null : comment } })) },
      })
    ).data.Results,
  delegations: async () => (await call<Delegation[]>('GET', '/Workflow/Delegations')).data,
  delegate: async (body: { Delegate: string; End: string; Start?: string; Comment?: string }) => (await call<Delegation>('POST', '/Workflow/Delegations', { body })).data,
  revokeDelegation: (id: number) => call('DELETE', `/Workflow/Delegations/${id}`),
  migrateAll: async (definitionId: string, dryRun: boolean) =>
    (await call<{ Results: MigrationResult[] }>('POST', `/Workflow/Definitions/${enc(definitionId)}/MigrateInstances`, { body: { DryRun: dryRun } })).data.Results,
};
