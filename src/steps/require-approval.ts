import type { JsonObject, RecordedSignal } from '../domain/types.ts';
import { configValue, param, type SignalCheck, type StepContext, type StepOutcome, type StepType } from './plugin.ts';

export const COMMENT_MAX = 500;

/** Parses Approved: a JSON boolean or "True"/"False" in any case. */
function parseApproved(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return undefined;
}

/** Data keys arrive in any case; find one case-insensitively. */
function pick(data: JsonObject, name: string): unknown {
  const key = Object.keys(data).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : data[key];
}

function checkSignal(signal: string, data: JsonObject): SignalCheck {
  if (signal !== 'ApprovalStatus') return { ok: false, message: `Unknown signal ${signal}` };
  const approvedRaw = pick(data, 'Approved');
  const approved = parseApproved(approvedRaw);
  if (approved === undefined) {
    return { ok: false, message: 'Data.Approved must be true or false (a JSON boolean or the text "True"/"False").' };
  }
  const comment = pick(data, 'Comment');
  if (comment !== undefined && comment !== null && typeof comment !== 'string') {
    return { ok: false, message: 'Data.Comment must be a string.' };
  }
  if (typeof comment === 'string' && [...comment].length > COMMENT_MAX) {
    return { ok: false, message: `Data.Comment is ${[...comment].length} characters long; at most ${COMMENT_MAX} are allowed.` };
  }
  return { ok: true, data: { Approved: approved, Comment: (comment as string | undefined) ?? null } };
}

/** Distinct identities per decision; a repeated signal from one identity counts once. */
export function tally(signals: RecordedSignal[]): { approvals: number; denials: number } {
  const approvers = new Set<number>();
  const deniers = new Set<number>();
  for (const s of signals) {
    if (s.signal !== 'ApprovalStatus') continue;
    (s.data.Approved === true ? approvers : deniers).add(s.identityId);
  }
  return { approvals: approvers.size, denials: deniers.size };
}

function thresholds(config: JsonObject): { minimumApprovals: number; denialsToReject: number } {
  return {
    minimumApprovals: Number(configValue(requireApprovalStep, config, 'MinimumApprovals')),
    denialsToReject: Number(configValue(requireApprovalStep, config, 'DenialsToReject')),
  };
}

function comments(signals: RecordedSignal[]): string {
  return signals
    .filter((s) => typeof s.data.Comment === 'string' && s.data.Comment !== '')
    .map((s) => `${s.accountName}: ${s.data.Comment as string}`)
    .join('\n');
}

function decide(ctx: StepContext): StepOutcome {
  const { minimumApprovals, denialsToReject } = thresholds(ctx.step.config);
  const { approvals, denials } = tally(ctx.signals);
  const cmnts = comments(ctx.signals);
  if (denials >= denialsToReject) {
    return { kind: 'reject', message: `Denied at ${ctx.step.displayName} (${denials} of ${denialsToReject} denials).` };
  }
  if (approvals >= minimumApprovals) {
    return {
      kind: 'continue',
      variables: { 'approval signal cmnts': cmnts },
      message: `Approved at ${ctx.step.displayName} (${approvals} of ${minimumApprovals} approvals).`,
    };
  }
  return {
    kind: 'suspend',
    message: `Waiting for approval at ${ctx.step.displayName}: ${approvals} of ${minimumApprovals} approvals received.`,
  };
}

const positiveInteger = (config: JsonObject, name: string): string[] => {
  const v = config[name];
  if (v === undefined || v === null) return [];
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return Number.isInteger(n) && (n as number) >= 1 ? [] : [`${name}: must be a whole number of at least 1`];
};

/** Suspends until enough distinct approvers approve, or enough deny. */
export const requireApprovalStep: StepType = {
  extensionName: 'RequireApproval',
  displayName: 'Require Approval',
  description: 'Suspends the instance until enough distinct approvers in the signal roles approve; enough denials reject it.',
  outputs: ['continue'],
  workflowTypes: 'all',
  parameters: {
    MinimumApprovals: param('Minimum approvals', 'integer', { default: 1, minimum: 1, tooltip: 'Distinct approvers needed to continue.' }),
    DenialsToReject: param('Denials to reject', 'integer', { default: 1, minimum: 1, tooltip: 'Distinct denials that reject the instance.' }),
  },
  signals: {
    ApprovalStatus: {
      Approved: param('Approved', 'boolean', { required: true }),
      Comment: param('Comment', 'string', { maxLength: COMMENT_MAX }),
    },
  },
  validate: (config) => [...positiveInteger(config, 'MinimumApprovals'), ...positiveInteger(config, 'DenialsToReject')],
  enter: (ctx) => decide(ctx),
  checkSignal,
  decide,
};
