import type { BoundAst } from './query/ast.ts';
import { evaluateQuery } from './query/evaluate.ts';

/*
 * Expiration alerts, as pure functions: when an alert's schedule is due, which certificates of its
 * collection have entered its warning window and were not alerted before, and the {cn}-style text
 * of an alert e-mail. The shell (src/service/alerts.ts, src/runner/alert-scheduler.ts) loads the
 * data, claims each (alert, certificate) pair in the store and does what the plan says.
 */

export const DAY_MS = 24 * 3600_000;

/** Keyfactor's KeyfactorSchedule, normalised: at most one kind is set. */
export type AlertSchedule =
  | { kind: 'off' }
  /** Once, as soon as possible after it was set. */
  | { kind: 'immediate' }
  | { kind: 'interval'; minutes: number }
  /** Every day at the UTC time of day of `time`. */
  | { kind: 'daily'; time: string }
  /** On the given days (0 Sunday .. 6 Saturday) at the UTC time of day of `time`. */
  | { kind: 'weekly'; days: number[]; time: string }
  /** On day `day` of each month (the month's last day when it is shorter) at the UTC time of day of `time`. */
  | { kind: 'monthly'; day: number; time: string }
  | { kind: 'once'; time: string };

const timeOfDayMs = (iso: string): number => {
  const d = new Date(iso);
  return d.getUTCHours() * 3600_000 + d.getUTCMinutes() * 60_000 + d.getUTCSeconds() * 1000;
};
const startOfDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/**
 * When the schedule is next due after the last run (`since`; null: never ran), given when the
 * schedule was set. Null: never again. The alert runs when the answer is at or before now.
 */
export function nextDue(schedule: AlertSchedule, since: string | null, setAt: string): string | null {
  const base = Date.parse(since ?? setAt);
  switch (schedule.kind) {
    case 'off':
      return null;
    case 'immediate':
      return since === null || Date.parse(since) < Date.parse(setAt) ? setAt : null;
    case 'interval':
      return since === null ? setAt : new Date(base + schedule.minutes * 60_000).toISOString();
    case 'once': {
      const at = Date.parse(schedule.time);
      return since === null || Date.parse(since) < at ? new Date(at).toISOString() : null;
    }
    case 'daily':
    case 'weekly':
    case 'monthly': {
      const tod = timeOfDayMs(schedule.time);
      // Walk day by day (at most ~62 days for a monthly schedule) to the first matching moment after base.
      for (let day = startOfDay(base), i = 0; i < 400; day += DAY_MS, i++) {
        const at = day + tod;
        if (at <= base) continue;
        const d = new Date(day);
        if (schedule.kind === 'weekly' && !schedule.days.includes(d.getUTCDay())) continue;
        if (schedule.kind === 'monthly') {
          const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
          if (d.getUTCDate() !== Math.min(schedule.day, last)) continue;
        }
        return new Date(at).toISOString();
      }
      return null;
    }
  }
}

export function isDue(schedule: AlertSchedule, since: string | null, setAt: string, now: string): boolean {
  const due = nextDue(schedule, since, setAt);
  return due !== null && Date.parse(due) <= Date.parse(now);
}

/** One alert as the check sees it: its window, its mode and its collection's bound query (null: every certificate). */
export interface AlertToCheck {
  id: number;
  warningDays: number;
  useWorkflows: boolean;
  collection: BoundAst | null;
}

/** One certificate as the check sees it. `fields` are the values the collection queries read (by FieldSpec key). */
export interface CertificateToCheck {
  id: number;
  notAfter: string;
  /** A successor was issued (renewed): it no longer needs alerts. */
  renewed: boolean;
  fields: Record<string, unknown>;
}

export interface AlertAction {
  alertId: number;
  certificateId: number;
  /** Start the alert's Expiration workflow instance, or e-mail the alert's recipients. */
  kind: 'workflow' | 'email';
}

export const alertedKey = (alertId: number, certificateId: number): string => `${alertId}:${certificateId}`;

/** Whether the certificate is inside the alert's warning window at `now`: not expired, expiring within warningDays. */
export function inWarningWindow(notAfter: string, warningDays: number, now: string): boolean {
  const end = Date.parse(notAfter);
  const t = Date.parse(now);
  return end > t && end - warningDays * DAY_MS <= t;
}

/**
 * What the alerts must do now: one action per (alert, certificate of its collection) whose
 * certificate is in the warning window, has not been renewed, and was not acted on before
 * (`alreadyAlerted`, keys from alertedKey). Each pair appears once, in alert then certificate order.
 */
export function planExpirationAlerts(alerts: AlertToCheck[], certificates: CertificateToCheck[], now: string, alreadyAlerted: ReadonlySet<string>): AlertAction[] {
  const actions: AlertAction[] = [];
  for (const alert of [...alerts].sort((a, b) => a.id - b.id)) {
    for (const cert of [...certificates].sort((a, b) => a.id - b.id)) {
      if (cert.renewed || alreadyAlerted.has(alertedKey(alert.id, cert.id))) continue;
      if (!inWarningWindow(cert.notAfter, alert.warningDays, now)) continue;
      if (!evaluateQuery(alert.collection, cert.fields)) continue;
      actions.push({ alertId: alert.id, certificateId: cert.id, kind: alert.useWorkflows ? 'workflow' : 'email' });
    }
  }
  return actions;
}

/**
 * POST /Alerts/Expiration/Test: the certificates of the alert's collection that enter its window
 * between the previous evaluation and this one (not expired at the evaluation, expiring within
 * warningDays of it, and not yet within warningDays of the previous one).
 */
export function enteringBetween(alert: AlertToCheck, certificates: CertificateToCheck[], previous: string, evaluation: string): CertificateToCheck[] {
  return [...certificates]
    .sort((a, b) => a.id - b.id)
    .filter(
      (c) =>
        inWarningWindow(c.notAfter, alert.warningDays, evaluation) &&
        !(Date.parse(c.notAfter) - alert.warningDays * DAY_MS <= Date.parse(previous)) &&
        evaluateQuery(alert.collection, c.fields),
    );
}

/** What {token}s in an alert's Subject, Message and Recipients read. */
export interface AlertTokenFacts {
  certid: number;
  cn: string | null;
  dn: string;
  sans: string;
  expdate: string;
  issuancedate: string;
  serial: string;
  thumbprint: string;
  issuerdn: string;
  caname: string | null;
  template: string | null;
  requester: string | null;
  daysremaining: number;
  alertname: string;
  alertid: number;
  /** The owner's address (the requester's e-mail). */
  ownerroleemail: string | null;
  metadata: Record<string, string>;
}

/** Token names (lower case) and their synonyms, as Keyfactor's alert editor spells them. */
const TOKEN_NAMES: Record<string, keyof Omit<AlertTokenFacts, 'metadata'>> = {
  cn: 'cn',
  certid: 'certid',
  dn: 'dn',
  certdn: 'dn',
  sans: 'sans',
  expdate: 'expdate',
  certexpdate: 'expdate',
  issuancedate: 'issuancedate',
  certnotbefore: 'issuancedate',
  serial: 'serial',
  certserialnum: 'serial',
  thumbprint: 'thumbprint',
  certthumbprint: 'thumbprint',
  issuerdn: 'issuerdn',
  caname: 'caname',
  ca: 'caname',
  template: 'template',
  requester: 'requester',
  daysremaining: 'daysremaining',
  alertname: 'alertname',
  alertid: 'alertid',
  ownerroleemail: 'ownerroleemail',
};

/**
 * Replaces `{cn}`, `{expdate}`, `{metadata:Name}` ... (case-insensitive) with the certificate's
 * values, each passed through `encode` (HTML-escaping for a message body). Unknown tokens stay
 * as written, so a typo shows in the e-mail instead of vanishing.
 */
export function renderAlertText(text: string, facts: AlertTokenFacts, encode: (s: string) => string = (s) => s): string {
  return text.replace(/\{([A-Za-z]+)(?::([^{}]{1,200}))?\}/g, (whole, name: string, arg: string | undefined) => {
    const n = name.toLowerCase();
    if (n === 'metadata' && arg !== undefined) {
      const key = Object.keys(facts.metadata).find((k) => k.toLowerCase() === arg.toLowerCase());
      return encode(key === undefined ? '' : facts.metadata[key]!);
    }
    if (arg !== undefined) return whole;
    const f = TOKEN_NAMES[n];
    if (!f) return whole;
    const v = facts[f];
    return encode(v === null ? '' : String(v));
  });
}

/** Whole days from now until notAfter (0 on the last day). */
export const daysRemaining = (notAfter: string, now: string): number => Math.max(0, Math.floor((Date.parse(notAfter) - Date.parse(now)) / DAY_MS));
