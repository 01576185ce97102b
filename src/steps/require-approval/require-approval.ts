import type { JsonObject, RecordedSignal } from '../../domain/types.ts';
import { addMs, describeDuration, parseDuration } from '../../domain/duration.ts';
import type { Json } from '../../domain/types.ts';
import { approvalActions, approvalNotification } from './notifications.ts';
import { COMMENT_RULES, commentRequired, commentRule, reasonCodes } from './policy.ts';
import {
  configValue,
  param,
  type NotifyContext,
  type NotifyKind,
  type StepWaitExplanation,
  type TimerKind,
  type SignalCheck,
  type StepContext,
  type StepOutcome,
  type StepType,
  type TimerResult,
  type WaitPlan,
} from '../../domain/step-type.ts';

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

function checkSignal(signal: string, data: JsonObject, config: JsonObject = {}): SignalCheck {
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
  const text = typeof comment === 'string' ? comment.trim() : '';
  if (!text && commentRequired(config, approved))
    return { ok: false, message: `Data.Comment is required ${commentRule(config) === 'Always' ? 'with every decision' : 'to deny'} at this step.` };
  const codes = reasonCodes(config);
  const rawCode = pick(data, 'ReasonCode');
  if (rawCode !== undefined && rawCode !== null && typeof rawCode !== 'string') return { ok: false, message: 'Data.ReasonCode must be a string.' };
  const code = typeof rawCode === 'string' && rawCode.trim() !== '' ? rawCode.trim() : null;
  if (code !== null && !codes.includes(code))
    return { ok: false, message: codes.length ? `Data.ReasonCode must be one of: ${codes.join(', ')}.` : 'This step offers no reason codes; send no Data.ReasonCode.' };
  if (code === null && codes.length && !approved) return { ok: false, message: `Data.ReasonCode is required to deny at this step: one of ${codes.join(', ')}.` };
  const normalised: JsonObject = { Approved: approved, Comment: (comment as string | undefined) ?? null };
  // Only steps that offer reason codes record one, so a Keyfactor client's Data stays as it was.
  if (code !== null) normalised.ReasonCode = code;
  return { ok: true, data: normalised };
}

function describeSignal(signal: string, data: JsonObject): string {
  if (signal !== 'ApprovalStatus') return `Signal ${signal} received.`;
  const verb = `${data.Approved === true ? 'Approved' : 'Denied'}${typeof data.ReasonCode === 'string' ? ` (${data.ReasonCode})` : ''}`;
  return typeof data.Comment === 'string' && data.Comment !== '' ? `${verb}: ${data.Comment}` : `${verb}.`;
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

const selfApprovalAllowed = (config: JsonObject): boolean => {
  const v = configValue(requireApprovalStep, config, 'AllowSelfApproval');
  return v === true || (typeof v === 'string' && v.trim().toLowerCase() === 'true');
};

const flag = (config: JsonObject, name: string): boolean => {
  const v = configValue(requireApprovalStep, config, name);
  return v === true || (typeof v === 'string' && v.trim().toLowerCase() === 'true');
};

/**
 * Four eyes: unless the step allows it, the initiator may not act on their own request; with
 * ExcludePriorDeciders, neither may anyone who decided an earlier step of the same instance.
 */
function barredActors(ctx: StepContext): { identityIds: number[]; reason: string } {
  const ids = new Set<number>();
  const reasons: string[] = [];
  const initiator = ctx.instance.initiatorId;
  if (initiator !== null && !selfApprovalAllowed(ctx.step.config)) {
    ids.add(initiator);
    reasons.push('the initiator of this request cannot approve it (AllowSelfApproval is off)');
  }
  if (flag(ctx.step.config, 'ExcludePriorDeciders')) {
    const earlier = Object.entries(ctx.instance.stepOutputs.deciders ?? {}).filter(([step]) => step !== ctx.step.uniqueName);
    const before = earlier.flatMap(([, who]) => who);
    if (before.length) {
      for (const id of before) ids.add(id);
      reasons.push('who decided an earlier step of this request may not decide this one (ExcludePriorDeciders)');
    }
  }
  return { identityIds: [...ids].sort((a, b) => a - b), reason: reasons.join('; ') };
}

/** A decided step with approvers records 'Approved' (one without signals just completes). */
const approvedHistory = (ctx: StepContext) => (ctx.step.signals.length > 0 ? ('Approved' as const) : undefined);

function decide(ctx: StepContext): StepOutcome {
  const { minimumApprovals, denialsToReject } = thresholds(ctx.step.config);
  // Signals from barred identities never count (recorded before an upgrade, or by any other path).
  const barred = new Set(barredActors(ctx).identityIds);
  const { approvals, denials } = tally(ctx.signals.filter((s) => !barred.has(s.identityId)));
  const cmnts = comments(ctx.signals);
  if (denials >= denialsToReject) {
    return { kind: 'reject', message: `Denied at ${ctx.step.displayName} (${denials} of ${denialsToReject} denials).` };
  }
  if (approvals >= minimumApprovals) {
    return {
      kind: 'continue',
      history: approvedHistory(ctx),
      variables: { 'approval signal cmnts': cmnts },
      message: `Approved at ${ctx.step.displayName} (${approvals} of ${minimumApprovals} approvals).`,
    };
  }
  const remaining = undecidedEligible(ctx, barred);
  if (remaining !== null && approvals + remaining < minimumApprovals) {
    return {
      kind: 'reject',
      message: `Rejected at ${ctx.step.displayName}: the quorum can no longer be reached (${minimumApprovals} approvals needed, ${approvals} received, and only ${remaining} eligible approver${remaining === 1 ? ' has' : 's have'} not decided).`,
    };
  }
  return {
    kind: 'suspend',
    message: `Waiting for approval at ${ctx.step.displayName}: ${approvals} of ${minimumApprovals} approvals received.`,
  };
}

/**
 * How many people may still approve: holders of the step's roles who are neither barred nor have
 * decided. Null when the step does not fail early, when the shell did not load who holds the
 * roles, or while an escalation can still add roles.
 */
function undecidedEligible(ctx: StepContext, barred: Set<number>): number | null {
  if (!flag(ctx.step.config, 'FailWhenQuorumUnreachable') || !ctx.members) return null;
  const escalationRoles = roleList(ctx.step.config.EscalationRoleIds);
  if (escalationRoles.some((r) => !ctx.instance.pendingRoleIds.includes(r))) return null;
  const decided = new Set(ctx.signals.map((s) => s.identityId));
  return ctx.members.filter((id) => !barred.has(id) && !decided.has(id)).length;
}

/** Whether deciding this step needs to know who holds its roles (the shell then loads them). */
const needsRoleMembers = (config: JsonObject): boolean => flag(config, 'FailWhenQuorumUnreachable');

// Deadlines and notifications ---------------------------------------------------------------------

const TIMEOUT_ACTIONS = { Deny: 'Deny', Approve: 'Approve', Fail: 'Fail' };

const durationOf = (config: JsonObject, name: string): number | null => {
  try {
    return parseDuration(config[name]);
  } catch {
    return null;
  }
};

const has = (config: JsonObject, name: string): boolean => typeof config[name] === 'string' && (config[name] as string).trim() !== '';

function waitPlan(config: JsonObject, since: string, maxWaitMs: number | undefined): WaitPlan {
  const timers: { kind: TimerKind; at: string }[] = [];
  const reminder = durationOf(config, 'ReminderInterval');
  const escalate = durationOf(config, 'EscalateAfter');
  const timeout = durationOf(config, 'TimeoutAfter') ?? maxWaitMs ?? null;
  if (reminder) timers.push({ kind: 'reminder', at: addMs(since, reminder) });
  if (escalate) timers.push({ kind: 'escalation', at: addMs(since, escalate) });
  if (timeout) timers.push({ kind: 'timeout', at: addMs(since, timeout) });
  return { timers, notify: has(config, 'RequestSubject') ? ['request'] : [] };
}

function onTimer(ctx: StepContext, kind: TimerKind, now: string, maxWaitMs: number | undefined): TimerResult {
  const c = ctx.step.config;
  if (kind === 'reminder') {
    const every = durationOf(c, 'ReminderInterval')!;
    return {
      history: 'Reminded',
      message: `Reminder: ${ctx.step.displayName} is still waiting for a decision.`,
      notify: has(c, 'RequestSubject') ? ['reminder'] : [],
      timers: [{ kind: 'reminder', at: addMs(now, every) }],
    };
  }
  if (kind === 'escalation') {
    const roles = roleList(c.EscalationRoleIds);
    const who = roles.length ? ` Roles ${roles.join(', ')} may now act too.` : '';
    return {
      history: 'Escalated',
      message: `Escalated: no decision at ${ctx.step.displayName} in ${describeDuration(durationOf(c, 'EscalateAfter')!)}.${who}`,
      addRoleIds: roles,
      notify: ['escalation'],
    };
  }
  const after = durationOf(c, 'TimeoutAfter');
  const span = describeDuration(after ?? maxWaitMs ?? 0);
  const action = after ? (String(configValue(requireApprovalStep, c, 'TimeoutAction')) as keyof typeof TIMEOUT_ACTIONS) : 'Fail';
  const why = after ? `No decision at ${ctx.step.displayName} within ${span}` : `No decision at ${ctx.step.displayName} within ${span}, the server's upper bound on a wait`;
  const outcome: StepOutcome =
    action === 'Approve'
      ? { kind: 'continue', history: approvedHistory(ctx), message: `${why}: approved automatically.`, variables: { 'approval signal cmnts': comments(ctx.signals) } }
      : action === 'Deny'
        ? { kind: 'reject', message: `${why}: denied automatically.` }
        : { kind: 'fail', message: `${why}: the instance failed (restart it to ask again).` };
  return { history: 'TimedOut', message: `Timed out. ${outcome.message}`, outcome, notify: has(c, 'RequestSubject') ? ['timeout'] : [] };
}

/** Explain: how many approvals and denials are needed and in, who decided, what the deadlines do. */
function explainWait(ctx: NotifyContext, since: string, maxWaitMs: number | undefined): StepWaitExplanation {
  const c = ctx.step.config;
  const { minimumApprovals, denialsToReject } = thresholds(c);
  const barredNow = barredActors(ctx);
  const barred = new Set(barredNow.identityIds);
  const { approvals, denials } = tally(ctx.signals.filter((s) => !barred.has(s.identityId)));
  const more = minimumApprovals - approvals;
  const summary = `Waiting for ${more} more approval${more === 1 ? '' : 's'} at ${ctx.step.displayName} (${approvals} of ${minimumApprovals} received; ${denials} of ${denialsToReject} denials reject it).`;
  // Timers already fired at this visit are behind us; the plan is recomputed from when the wait began.
  const fired = new Set<string>(ctx.history.filter((h) => h.kind === 'Escalated' || h.kind === 'TimedOut').map((h) => (h.kind === 'Escalated' ? 'escalation' : 'timeout')));
  const lastReminder = [...ctx.history].reverse().find((h) => h.kind === 'Reminded')?.at;
  const plan = waitPlan(c, since, maxWaitMs);
  const deadlines = (plan.timers ?? [])
    .filter((t) => !fired.has(t.kind))
    .map((t) => {
      if (t.kind === 'reminder') {
        const every = durationOf(c, 'ReminderInterval')!;
        return { kind: 'reminder', at: lastReminder ? addMs(lastReminder, every) : t.at, action: `Those who have not acted are reminded (every ${describeDuration(every)}).` };
      }
      if (t.kind === 'escalation') {
        const roles = roleList(c.EscalationRoleIds);
        return { kind: 'escalation', at: t.at, action: `Escalated${roles.length ? `: roles ${roles.join(', ')} may act too` : ''}.` };
      }
      const onTimeout = durationOf(c, 'TimeoutAfter') ? String(configValue(requireApprovalStep, c, 'TimeoutAction')) : 'Fail';
      const action =
        onTimeout === 'Approve'
          ? 'Approved automatically.'
          : onTimeout === 'Deny'
            ? 'Denied automatically (the instance is rejected).'
            : 'The instance fails (restart it to ask again).';
      return { kind: 'timeout', at: t.at, action };
    })
    .sort((a, b) => a.at.localeCompare(b.at));
  return {
    summary,
    counts: [
      { name: 'Approvals', required: minimumApprovals, received: approvals },
      { name: 'Denials', required: denialsToReject, received: denials },
    ],
    decisions: ctx.signals
      .filter((s) => s.signal === 'ApprovalStatus')
      .map((s) => ({
        accountName: s.accountName,
        signal: s.signal,
        decision: s.data.Approved === true ? 'Approved' : 'Denied',
        comment: typeof s.data.Comment === 'string' && s.data.Comment !== '' ? s.data.Comment : null,
        at: s.at,
      })),
    barred: barredNow.identityIds.length ? barredNow : null,
    deadlines,
  };
}

function onDecided(ctx: StepContext, outcome: 'continue' | 'reject'): NotifyKind[] {
  const c = ctx.step.config;
  if (outcome === 'continue') return has(c, 'ApprovedSubject') ? ['approved'] : [];
  return has(c, 'DeniedSubject') ? ['denied'] : [];
}

function roleList(v: Json | undefined): number[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => Number(x)).filter((n) => Number.isInteger(n) && n > 0);
}

function checkDurations(config: JsonObject): string[] {
  const problems: string[] = [];
  for (const name of ['ReminderInterval', 'EscalateAfter', 'TimeoutAfter']) {
    try {
      parseDuration(config[name]);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  const ids = config.EscalationRoleIds;
  if (Array.isArray(ids) && ids.some((x) => !/^\d+$/.test(String(x)))) problems.push('EscalationRoleIds: must be a list of role ids (whole numbers)');
  if (has(config, 'TimeoutAction') && !Object.hasOwn(TIMEOUT_ACTIONS, config.TimeoutAction as string)) problems.push('TimeoutAction: must be Deny, Approve or Fail');
  return problems;
}

function checkPolicy(config: JsonObject): string[] {
  const problems: string[] = [];
  if (has(config, 'CommentRequired') && !Object.hasOwn(COMMENT_RULES, String(config.CommentRequired).trim())) problems.push('CommentRequired: must be Never, OnDeny or Always');
  const codes = config.ReasonCodes;
  if (codes !== undefined && codes !== null) {
    if (!Array.isArray(codes) || codes.some((c) => typeof c !== 'string' || c.trim() === '' || c.length > 100))
      problems.push('ReasonCodes: must be a list of non-empty texts of at most 100 characters');
    else if (new Set(codes.map((c) => (c as string).trim())).size !== codes.length) problems.push('ReasonCodes: must not repeat a code');
  }
  for (const name of ['ExcludePriorDeciders', 'FailWhenQuorumUnreachable', 'AllowSelfApproval']) {
    const v = config[name];
    if (v !== undefined && v !== null && typeof v !== 'boolean' && !(typeof v === 'string' && /^(true|false)$/i.test(v.trim()))) problems.push(`${name}: must be true or false`);
  }
  return problems;
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
    RequestSubject: param('Request email subject', 'string', {
      tokens: true,
      tooltip: 'When set, the identities who may act are emailed when the step starts waiting (and on reminders).',
    }),
    RequestMessage: param('Request email message', 'html', { tokens: true }),
    RequestRecipients: param('Additional request recipients', 'stringList', { tokens: true, default: [] }),
    OneClickLinks: param('One-click approve/deny links', 'boolean', { default: false, tooltip: 'Each approver gets personal, signed, single-use approve and deny links.' }),
    ApprovedSubject: param('Approved email subject', 'string', { tokens: true }),
    ApprovedMessage: param('Approved email message', 'html', { tokens: true }),
    ApprovedRecipients: param('Approved email recipients', 'stringList', { tokens: true, default: [] }),
    DeniedSubject: param('Denied email subject', 'string', { tokens: true }),
    DeniedMessage: param('Denied email message', 'html', { tokens: true }),
    DeniedRecipients: param('Denied email recipients', 'stringList', { tokens: true, default: [] }),
    ReminderInterval: param('Reminder interval', 'string', { tooltip: 'ISO-8601 duration (PT24H) or minutes: remind those who have not acted.' }),
    EscalateAfter: param('Escalate after', 'string', { tooltip: 'ISO-8601 duration or minutes without a decision before escalating.' }),
    EscalationRecipients: param('Escalation recipients', 'stringList', { tokens: true, default: [] }),
    EscalationRoleIds: param('Escalation roles', 'stringList', { default: [], tooltip: 'Role ids that may also act after escalation.' }),
    TimeoutAfter: param('Time out after', 'string', { tooltip: "ISO-8601 duration or minutes; without it the server's upper bound applies." }),
    TimeoutAction: param('Action on timeout', 'string', { default: 'Fail', potentialValues: TIMEOUT_ACTIONS }),
    AllowSelfApproval: param('Allow self-approval', 'boolean', {
      default: false,
      tooltip: "Whether the request's initiator may approve it when they hold an approver role (off: four eyes).",
    }),
    ExcludePriorDeciders: param('Exclude earlier deciders', 'boolean', {
      default: false,
      tooltip: 'Whoever approved or denied an earlier step of the same request may not decide this one.',
    }),
    CommentRequired: param('Comment required', 'string', { default: 'Never', potentialValues: COMMENT_RULES, tooltip: 'Never, OnDeny or Always.' }),
    ReasonCodes: param('Reason codes', 'stringList', { default: [], tooltip: 'Codes offered to approvers; a denial must name one, and the code is recorded.' }),
    FailWhenQuorumUnreachable: param('Fail early when the quorum is unreachable', 'boolean', {
      default: false,
      tooltip: 'Reject as soon as too few eligible approvers remain to reach MinimumApprovals.',
    }),
  },
  signals: {
    ApprovalStatus: {
      Approved: param('Approved', 'boolean', { required: true }),
      Comment: param('Comment', 'string', { maxLength: COMMENT_MAX }),
      ReasonCode: param('Reason code', 'string', { tooltip: "One of the step's ReasonCodes (extension)." }),
    },
  },
  validate: (config) => [...positiveInteger(config, 'MinimumApprovals'), ...positiveInteger(config, 'DenialsToReject'), ...checkDurations(config), ...checkPolicy(config)],
  enter: (ctx) => decide(ctx),
  checkSignal,
  // Approved decides; the Comment may differ on a repeat.
  sameDecision: (a, b) => a.Approved === b.Approved,
  describeSignal,
  barredActors,
  decide,
  needsRoleMembers,
  onWait: (ctx, now, maxWaitMs) => waitPlan(ctx.step.config, now, maxWaitMs),
  onTimer,
  onDecided,
  notification: approvalNotification,
  explainWait,
  oneClickActions: approvalActions,
};
