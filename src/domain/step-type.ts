import type { HistoryEntry, HistoryKind, Instance, Json, JsonObject, RecordedSignal, StepDef } from './types.ts';
import type { TokenEncoder, TokenScope } from './tokens.ts';

/*
 * The step-type interface: what a plugin in src/steps declares and implements. The engine knows
 * steps only through it, so a new step type (waiting, signals, notifications) touches no engine file.
 */

/** A timer a step type schedules; the engine stores it and hands it back opaquely (onTimer). */
export type TimerKind = string;
/** A notification a step type asks for; the runner hands it back to the type (notification). */
export type NotifyKind = string;

/**
 * The kinds of parameter a step can declare. Each maps to Keyfactor's integer DataType and
 * InputControlType in the catalogue (their names are unpublished; our mapping is in
 * docs/compatibility.md).
 */
export type ParamType = 'string' | 'html' | 'integer' | 'boolean' | 'stringList' | 'stringMap' | 'stringListMap' | 'object';

export interface ParamDecl {
  displayName: string;
  type: ParamType;
  required?: boolean;
  default?: Json;
  /** Whether $(...) tokens are replaced in this value before the step runs. */
  tokens?: boolean;
  /** How token values are encoded where they land (URL, JSON body); plain text when absent. */
  encodeTokens?: (config: JsonObject) => TokenEncoder | undefined;
  /**
   * The value says where the step sends its secrets: a stored secret is kept (null in PUT Steps)
   * only while this stays the same ('origin': scheme, host and port; 'url': the whole URL).
   */
  destination?: 'origin' | 'url';
  /** Write-only: never returned by the API or logged. */
  secret?: boolean;
  /** Values may also be a PAM secret reference object ({Provider, Parameters}). */
  allowSecretReference?: boolean;
  minimum?: number;
  maxLength?: number;
  potentialValues?: Record<string, string>;
  tooltip?: string;
}

/** What entering a step (or re-deciding it after a signal) leads to. Pure data. */
export type StepOutcome =
  /**
   * trusted: the part of variables and metadata that may be recorded as trusted (what the step
   * derived from trusted data alone); absent means all of it (docs/security/trust.md).
   */
  | {
      kind: 'continue';
      output?: string;
      variables?: JsonObject;
      metadata?: JsonObject;
      message?: string;
      trusted?: { variables?: JsonObject; metadata?: JsonObject };
      /** The history entry written (e.g. 'Approved'); 'StepCompleted' when absent. */
      history?: HistoryKind;
    }
  | { kind: 'suspend'; message: string }
  | { kind: 'reject'; message: string }
  | { kind: 'fail'; message: string }
  /** Automatic work with side effects: the runner does it outside the transaction. */
  | { kind: 'run' };

export interface StepContext {
  step: StepDef;
  instance: Instance;
  scope: TokenScope;
  /** Signals recorded at this visit of the step. */
  signals: RecordedSignal[];
  /** Identities holding a role that may act on the step now, when the shell loaded them (else absent). */
  members?: number[];
}

export type SignalCheck = { ok: true; data: JsonObject } | { ok: false; message: string };

/**
 * A step type. Declarations feed validation and the catalogue endpoints; enter/decide are pure
 * and run inside the engine's transition; run (optional) does I/O in the runner.
 */
export interface StepType {
  extensionName: string;
  displayName: string;
  description: string;
  outputs: string[];
  /** Workflow types the step may be used in; 'all' for every type. */
  workflowTypes: 'all' | string[];
  parameters: Record<string, ParamDecl>;
  /** signal name -> its Data parameters */
  signals: Record<string, Record<string, ParamDecl>>;
  /** How many steps of this type one definition may hold (absent: any number). */
  maxPerDefinition?: number;
  /** False when the step may carry no Conditions (absent: allowed). */
  conditionsAllowed?: boolean;
  /** A definition of one of workflowTypes without this step runs it at its end (domain/implicit-steps.ts). */
  implicitAtEnd?: boolean;
  /**
   * Checks beyond the declared parameter types; returns problems as "Field: reason". `env` is
   * the server's run environment when validating on a server (egress policy, settings).
   */
  validate?(config: JsonObject, env?: RunEnvironment): string[];
  enter(ctx: StepContext): StepOutcome;
  /** Normalises and checks a signal's Data for this step. */
  checkSignal?(signal: string, data: JsonObject, config?: JsonObject): SignalCheck;
  /**
   * Pure: whether two checked Data of one identity's signal say the same, so the second counts
   * once (a different one is refused: SignalDecisionChanged). Default: deep equality.
   */
  sameDecision?(a: JsonObject, b: JsonObject): boolean;
  /** Pure: the history message for a received signal. Default: "Signal <name> received." */
  describeSignal?(signal: string, data: JsonObject): string;
  /** Pure: identities that may not act on this step even with one of its roles, and why. */
  barredActors?(ctx: StepContext): { identityIds: number[]; reason: string };
  /** Pure: whether deciding this step needs StepContext.members (who holds its roles); the shell then loads them. */
  needsRoleMembers?(config: JsonObject): boolean;
  /** Decides the step from the signals recorded so far (after a signal, or in the reconciler). */
  decide?(ctx: StepContext): StepOutcome;
  /** Pure: timers and notifications to schedule when the step starts waiting. */
  onWait?(ctx: StepContext, now: string, maxWaitMs: number | undefined): WaitPlan;
  /** Pure: what a due timer does (remind, escalate, decide on timeout). */
  onTimer?(ctx: StepContext, kind: TimerKind, now: string, maxWaitMs: number | undefined): TimerResult;
  /** Pure: notifications to send once the step is decided. */
  onDecided?(ctx: StepContext, outcome: 'continue' | 'reject'): NotifyKind[];
  /**
   * Pure: the message for a notification this type asked for (WaitPlan.notify, onDecided);
   * null when there is nothing to send. The runner only resolves people, renders links and sends.
   */
  notification?(ctx: NotifyContext, kind: NotifyKind): Notification | null;
  /**
   * Pure: what a waiting step needs, for Explain: counts required and received, the decisions
   * so far, and the deadlines ahead with what happens at each. `since`: when it started waiting.
   */
  explainWait?(ctx: NotifyContext, since: string, maxWaitMs: number | undefined): StepWaitExplanation;
  /** Actions a personal one-click link may carry (key: the link's action), as signals on this step. */
  oneClickActions?: Record<string, OneClickAction>;
  /** The side effect of an automatic step; the runner calls it outside any transaction. */
  run?(input: RunInput): Promise<RunResult>;
}

/** Why a step waits, in the step type's own terms (Explain). */
export interface StepWaitExplanation {
  /** One sentence, e.g. "Waiting for 1 more approval at Manager approval (1 of 2)." */
  summary: string;
  /** Per decision the step counts: how many are required and received. */
  counts: { name: string; required: number; received: number }[];
  decisions: { accountName: string; signal: string; decision: string; comment: string | null; at: string }[];
  /** Identities who hold a role but may not act, and why (four eyes). */
  barred: { identityIds: number[]; reason: string } | null;
  deadlines: { kind: string; at: string; action: string }[];
}

/** What the notification hook sees: the step, and its history at this visit so far. */
export interface NotifyContext extends StepContext {
  history: HistoryEntry[];
}

export interface Notification {
  subject: string;
  /** The HTML body; anything inserted from data is already escaped. */
  html: string;
  /** Addresses the step lists. */
  recipients: string[];
  /** People in these roles who have not acted on this step (and are not barred) get it too. */
  notifyRoleIds: number[];
  /** Personal one-click links for those people (keys of oneClickActions, with their labels). */
  links?: { action: string; label: string }[];
}

/** A one-click action: following the link (after a confirmation page) sends `signal` with `data`. */
export interface OneClickAction {
  /** The verb on the link, page and button ("Approve"). */
  label: string;
  /** The page title once recorded ("Approved"); lowercase it reads "You already approved". */
  done: string;
  signal: string;
  data: JsonObject;
  /** The Data field the page's comment goes into (no comment box without it). */
  commentField?: string;
  /** Styles the button: positive (green) or negative (red). */
  tone?: 'positive' | 'negative';
  /**
   * Pure: what the confirmation form asks at a step with this configuration (the step's own
   * rules for a decision). Absent: an optional comment (when commentField is set) and no choices.
   * The page enforces it (a choice must be one of its options) before the signal is sent;
   * checkSignal stays the final authority.
   */
  form?(config: JsonObject): OneClickForm;
}

/** The fields a one-click confirmation form shows besides its button. */
export interface OneClickForm {
  /** Whether the comment (into commentField) is optional or required; absent: optional. */
  comment?: 'optional' | 'required';
  /** Each a <select> whose chosen option goes into Data[field] (nothing when none is chosen). */
  choices?: OneClickChoice[];
}

export interface OneClickChoice {
  /** The Data field the chosen option goes into. */
  field: string;
  /** The field's label on the page ("Reason code"). */
  label: string;
  options: string[];
  /** A choice is required to send the action. */
  required: boolean;
}

export interface WaitPlan {
  timers?: { kind: TimerKind; at: string }[];
  notify?: NotifyKind[];
}

export interface TimerResult extends WaitPlan {
  /** The history entry written for the timer (e.g. 'Reminded'). */
  history: HistoryKind;
  message: string;
  /** Roles that may act from now on, besides the step's own (escalation). */
  addRoleIds?: number[];
  /** A decision the timer makes (timeout). */
  outcome?: StepOutcome;
}

/** Services configured on this server that executors use (mail, HTTP, scripts). */
export interface RunEnvironment {
  [service: string]: unknown;
}

export interface RunInput {
  step: StepDef;
  /** Configuration with tokens replaced where the parameter supports them; secrets included. */
  config: JsonObject;
  instance: Instance;
  /**
   * Stable for one execution of one step of one instance, across retries: receivers use it to
   * de-duplicate (email Message-ID, REST Idempotency-Key header).
   */
  idempotencyKey: string;
  attempt: number;
  signal: AbortSignal;
  env: RunEnvironment;
}

export interface RunResult {
  variables?: JsonObject;
  metadata?: JsonObject;
  message?: string;
}

/** A step run that failed; retryable failures (network errors, 5xx) are tried again with backoff. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export const param = (displayName: string, type: ParamType, extra: Omit<ParamDecl, 'displayName' | 'type'> = {}): ParamDecl => ({
  displayName,
  type,
  ...extra,
});

/** Reads a parameter with its declared default. */
export function configValue(type: StepType, config: JsonObject, name: string): Json | undefined {
  return Object.hasOwn(config, name) && config[name] !== null ? config[name] : type.parameters[name]?.default;
}
