import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alertedKey,
  DAY_MS,
  enteringBetween,
  inWarningWindow,
  isDue,
  nextDue,
  planExpirationAlerts,
  renderAlertText,
  type AlertSchedule,
  type AlertToCheck,
  type AlertTokenFacts,
  type CertificateToCheck,
} from '../../src/domain/alerts.ts';
import { escapeHtml } from '../../src/domain/html.ts';
import { bindQuery, parseQuery, type FieldSpec } from '../../src/domain/query/index.ts';

/*
 * The expiration alert check is a pure function of (alerts, certificates, now, already alerted):
 * these properties say what "each certificate entering an alert's window is acted on exactly
 * once" means, over arbitrary alerts, certificates, collections and sequences of runs.
 */

const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const FIELDS: FieldSpec[] = [
  { name: 'IssuedCN', type: 'string', column: 'issued_cn', key: 'issued_cn' },
  { name: 'KeySizeInBits', type: 'integer', column: 'key_size', key: 'key_size' },
];
const QUERIES = [null, 'IssuedCN -startswith "a"', 'KeySizeInBits -ge 3072', 'IssuedCN -contains "b" OR KeySizeInBits -eq 2048'];

const alertArb = fc.record({
  id: fc.integer({ min: 1, max: 6 }),
  warningDays: fc.integer({ min: 0, max: 120 }),
  useWorkflows: fc.boolean(),
  query: fc.constantFrom(...QUERIES),
});
const certArb = fc.record({
  id: fc.integer({ min: 1, max: 40 }),
  // Expiring anywhere from 30 days ago to 200 days ahead of T0.
  notAfterOffset: fc.integer({ min: -30 * 24, max: 200 * 24 }),
  renewed: fc.boolean(),
  cn: fc.constantFrom('a.example', 'b.example', 'ab.example', 'c.example'),
  bits: fc.constantFrom(2048, 3072, 4096),
});

const uniqueBy = <T>(xs: T[], key: (x: T) => number): T[] => [...new Map(xs.map((x) => [key(x), x])).values()];

function toAlerts(raw: { id: number; warningDays: number; useWorkflows: boolean; query: string | null }[]): AlertToCheck[] {
  return uniqueBy(raw, (a) => a.id).map((a) => ({
    id: a.id,
    warningDays: a.warningDays,
    useWorkflows: a.useWorkflows,
    collection: a.query ? bindQuery(parseQuery(a.query), FIELDS) : null,
  }));
}
function toCerts(raw: { id: number; notAfterOffset: number; renewed: boolean; cn: string; bits: number }[]): CertificateToCheck[] {
  return uniqueBy(raw, (c) => c.id).map((c) => ({ id: c.id, notAfter: iso(T0 + c.notAfterOffset * 3600_000), renewed: c.renewed, fields: { issued_cn: c.cn, key_size: c.bits } }));
}

/** The specification, written independently of the implementation's loop. */
function qualifies(a: AlertToCheck, c: CertificateToCheck, now: number): boolean {
  const end = Date.parse(c.notAfter);
  const inCollection = (() => {
    const q = QUERIES.find((x) => x !== null && a.collection !== null && JSON.stringify(bindQuery(parseQuery(x), FIELDS)) === JSON.stringify(a.collection));
    const cn = String(c.fields.issued_cn);
    const bits = Number(c.fields.key_size);
    if (a.collection === null) return true;
    if (q === 'IssuedCN -startswith "a"') return cn.startsWith('a');
    if (q === 'KeySizeInBits -ge 3072') return bits >= 3072;
    return cn.includes('b') || bits === 2048;
  })();
  return !c.renewed && end > now && end - a.warningDays * DAY_MS <= now && inCollection;
}

describe('planExpirationAlerts', () => {
  it('acts on exactly the (alert, certificate) pairs that qualify and were not acted on, each once', () => {
    fc.assert(
      fc.property(
        fc.array(alertArb, { maxLength: 5 }),
        fc.array(certArb, { maxLength: 25 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }))),
        (ra, rc, done) => {
          const alerts = toAlerts(ra);
          const certs = toCerts(rc);
          const already = new Set(done.map(([a, c]) => alertedKey(a, c)));
          const actions = planExpirationAlerts(alerts, certs, iso(T0), already);
          const keys = actions.map((x) => alertedKey(x.alertId, x.certificateId));
          expect(new Set(keys).size).toBe(keys.length);
          const expected = alerts.flatMap((a) => certs.filter((c) => qualifies(a, c, T0) && !already.has(alertedKey(a.id, c.id))).map((c) => alertedKey(a.id, c.id)));
          expect([...keys].sort()).toEqual([...expected].sort());
          for (const x of actions) expect(x.kind).toBe(alerts.find((a) => a.id === x.alertId)!.useWorkflows ? 'workflow' : 'email');
        },
      ),
    );
  });

  it('over any sequence of runs with claims recorded, a pair is acted on at most once, and every pair in its window at a run is acted on by then', () => {
    fc.assert(
      fc.property(
        fc.array(alertArb, { maxLength: 4 }),
        fc.array(certArb, { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 240 * 24 }), { minLength: 1, maxLength: 8 }),
        (ra, rc, steps) => {
          const alerts = toAlerts(ra);
          const certs = toCerts(rc);
          const claimed = new Set<string>();
          const times = [...steps].sort((a, b) => a - b).map((h) => T0 - 60 * DAY_MS + h * 3600_000);
          for (const now of times) {
            for (const x of planExpirationAlerts(alerts, certs, iso(now), claimed)) {
              const k = alertedKey(x.alertId, x.certificateId);
              expect(claimed.has(k)).toBe(false);
              claimed.add(k);
            }
            for (const a of alerts) for (const c of certs) if (qualifies(a, c, now)) expect(claimed.has(alertedKey(a.id, c.id))).toBe(true);
          }
          // Running again at the last moment finds nothing left to do.
          expect(planExpirationAlerts(alerts, certs, iso(times.at(-1)!), claimed)).toEqual([]);
        },
      ),
    );
  });

  it('the test window lists what enters between two evaluations: disjoint windows never list a certificate twice', () => {
    fc.assert(
      fc.property(alertArb, fc.array(certArb, { maxLength: 25 }), fc.integer({ min: 0, max: 100 * 24 }), fc.integer({ min: 0, max: 100 * 24 }), (ra, rc, h1, h2) => {
        const [alert] = toAlerts([ra]);
        const certs = toCerts(rc).map((c) => ({ ...c, renewed: false }));
        const t1 = T0 + Math.min(h1, h2) * 3600_000;
        const t2 = T0 + Math.max(h1, h2) * 3600_000;
        const first = enteringBetween(alert!, certs, iso(T0), iso(t1)).map((c) => c.id);
        const second = enteringBetween(alert!, certs, iso(t1), iso(t2)).map((c) => c.id);
        for (const id of second) expect(first).not.toContain(id);
        for (const c of enteringBetween(alert!, certs, iso(T0), iso(t2))) expect(inWarningWindow(c.notAfter, alert!.warningDays, iso(t2))).toBe(true);
      }),
    );
  });
});

const timeArb = fc.integer({ min: 0, max: 24 * 3600 - 1 }).map((s) => iso(Date.UTC(2020, 0, 1) + s * 1000));
const scheduleArb: fc.Arbitrary<AlertSchedule> = fc.oneof(
  fc.constant({ kind: 'off' as const }),
  fc.constant({ kind: 'immediate' as const }),
  fc.integer({ min: 1, max: 10_000 }).map((minutes) => ({ kind: 'interval' as const, minutes })),
  timeArb.map((time) => ({ kind: 'daily' as const, time })),
  fc.tuple(fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 }), timeArb).map(([days, time]) => ({ kind: 'weekly' as const, days, time })),
  fc.tuple(fc.integer({ min: 1, max: 31 }), timeArb).map(([day, time]) => ({ kind: 'monthly' as const, day, time })),
  fc.integer({ min: 0, max: 400 * 24 }).map((h) => ({ kind: 'once' as const, time: iso(T0 + h * 3600_000) })),
);

describe('schedules', () => {
  it('the next run is after the last one, on the schedule, and a run at it is due while a moment before is not', () => {
    fc.assert(
      fc.property(scheduleArb, fc.option(fc.integer({ min: 0, max: 365 * 24 * 60 }), { nil: null }), fc.integer({ min: 0, max: 365 * 24 * 60 }), (s, sinceMin, setMin) => {
        const setAt = iso(T0 + setMin * 60_000);
        const since = sinceMin === null ? null : iso(T0 + sinceMin * 60_000);
        const due = nextDue(s, since, setAt);
        if (s.kind === 'off') {
          expect(due).toBeNull();
          return;
        }
        if (due === null) {
          // Only one-shot schedules end: once run after their moment (or after being set).
          expect(['immediate', 'once']).toContain(s.kind);
          return;
        }
        const d = new Date(due);
        if (since !== null && s.kind !== 'once') expect(d.getTime()).toBeGreaterThanOrEqual(Date.parse(since));
        if (s.kind === 'daily' || s.kind === 'weekly' || s.kind === 'monthly') {
          const t = new Date(s.time);
          expect([d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]).toEqual([t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()]);
          expect(d.getTime()).toBeGreaterThan(Date.parse(since ?? setAt));
          expect(d.getTime() - Date.parse(since ?? setAt)).toBeLessThanOrEqual(32 * DAY_MS);
        }
        if (s.kind === 'weekly') expect(s.days).toContain(d.getUTCDay());
        if (s.kind === 'monthly') {
          const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
          expect(d.getUTCDate()).toBe(Math.min(s.day, last));
        }
        expect(isDue(s, since, setAt, due)).toBe(true);
        expect(isDue(s, since, setAt, iso(d.getTime() - 1))).toBe(false);
        // Once it has run at its due time, it is not due again at that same moment.
        expect(isDue(s, due, setAt, due)).toBe(false);
      }),
    );
  });
});

describe('alert text', () => {
  const facts = (cn: string, meta: Record<string, string>): AlertTokenFacts => ({
    certid: 7,
    cn,
    dn: `CN=${cn}`,
    sans: cn,
    expdate: '2026-12-31T00:00:00.000Z',
    issuancedate: '2025-12-31T00:00:00.000Z',
    serial: 'AB',
    thumbprint: 'CD',
    issuerdn: 'CN=CA',
    caname: 'h\\ca',
    template: 'T',
    requester: 'alice',
    daysremaining: 3,
    alertname: 'A',
    alertid: 1,
    ownerroleemail: 'o@example.test',
    metadata: meta,
  });

  it('every known token is replaced through the encoder, so certificate text can never inject HTML', () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.stringMatching(/^[A-Za-z]{1,8}$/), fc.string()), (cn, meta) => {
        const name = Object.keys(meta)[0];
        const out = renderAlertText(`<p>{cn} {CertDN} {sans}${name ? ` {metadata:${name}}` : ''} {expdate}</p>`, facts(cn, meta), escapeHtml);
        const inner = out.slice(3, -4);
        expect(inner).not.toMatch(/[<>]/);
        expect(out.startsWith('<p>')).toBe(true);
        expect(out).toContain('2026-12-31T00:00:00.000Z');
      }),
    );
    expect(renderAlertText('{cn} {nosuch} {metadata:Missing} {serial:x}', facts('web', {}))).toBe('web {nosuch}  {serial:x}');
    expect(renderAlertText('{METADATA:team}', facts('web', { Team: 'pki' }))).toBe('pki');
  });
});
