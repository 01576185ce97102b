import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AlertSchedule } from '../../domain/alerts.ts';
import { fail } from '../../domain/errors.ts';
import { evaluateQuery, type FieldSpec } from '../../domain/query/index.ts';
import type { Json, JsonObject } from '../../domain/types.ts';
import { P } from '../../security/permissions.ts';
import type { Alert, AlertInput, AlertService, BuiltAlert, CollectionInput } from '../../service/alerts.ts';
import type { CertificateService } from '../../service/certificates.ts';
import { RenewalType, type Renewal } from '../../service/renewal.ts';
import type { CollectionRecord } from '../../store/alert-store.ts';
import { requirePermission } from '../guard.ts';
import { bound } from '../listing.ts';
import { asObject, bool, field, int, intParam, queryInt, str } from '../wire.ts';

/** Longest warning window: 100 years (beyond it the dates would leave JavaScript's range). */
const MAX_WARNING_DAYS = 36_500;

const COLLECTION_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'Id' },
  { name: 'Name', type: 'string', column: 'Name' },
  { name: 'Description', type: 'string', column: 'Description' },
];
const ALERT_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'Id' },
  { name: 'DisplayName', type: 'string', column: 'DisplayName' },
  { name: 'ExpirationWarningDays', type: 'integer', column: 'ExpirationWarningDays' },
  { name: 'UseWorkflows', type: 'boolean', column: 'UseWorkflows' },
];

/** QueryString, PageReturned and ReturnLimit over an in-memory list. */
function page<T>(req: FastifyRequest, items: T[], fields: FieldSpec[], record: (t: T) => Record<string, unknown>): T[] {
  const filter = bound(req.q.querystring, fields);
  const pageNo = queryInt(req.q, 'PageReturned', 1, 1, 1_000_000);
  const limit = queryInt(req.q, 'ReturnLimit', 100, 1, 1000);
  return items.filter((i) => evaluateQuery(filter, record(i))).slice((pageNo - 1) * limit, pageNo * limit);
}

// Schedules -----------------------------------------------------------------------------------------

function time(o: JsonObject, what: string): string {
  const t = str(o, 'Time', { required: true, max: 64 })!;
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) fail('ValidationFailed', `${what}.Time must be a date-time such as 2026-01-01T06:00:00Z.`);
  return new Date(ms).toISOString();
}

const sub = (o: JsonObject, name: string): JsonObject | null => {
  const v = field(o, name);
  return v === undefined || v === null ? null : asObject(v, name);
};

/** Keyfactor's KeyfactorSchedule: at most one of Immediate, Interval, Daily, Weekly, Monthly, ExactlyOnce. */
export function readSchedule(v: Json | undefined): AlertSchedule | null {
  if (v === undefined || v === null) return null;
  const o = asObject(v, 'Schedule');
  const found: AlertSchedule[] = [];
  if (bool(o, 'Immediate') === true) found.push({ kind: 'immediate' });
  const interval = sub(o, 'Interval');
  if (interval) {
    const minutes = int(interval, 'Minutes', { required: true, min: 1 })!;
    if (minutes > 527_040) fail('ValidationFailed', 'Schedule.Interval.Minutes must be at most 527040 (a year).');
    found.push({ kind: 'interval', minutes });
  }
  const daily = sub(o, 'Daily');
  if (daily) found.push({ kind: 'daily', time: time(daily, 'Schedule.Daily') });
  const weekly = sub(o, 'Weekly');
  if (weekly) {
    const days = field(weekly, 'Days');
    if (!Array.isArray(days) || days.length === 0 || !days.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 6))
      fail('ValidationFailed', 'Schedule.Weekly.Days must list days of the week, 0 (Sunday) to 6 (Saturday).');
    found.push({ kind: 'weekly', days: [...new Set(days as number[])].sort(), time: time(weekly, 'Schedule.Weekly') });
  }
  const monthly = sub(o, 'Monthly');
  if (monthly) {
    const day = int(monthly, 'Day', { required: true, min: 1 })!;
    if (day > 31) fail('ValidationFailed', 'Schedule.Monthly.Day must be 1 to 31.');
    found.push({ kind: 'monthly', day, time: time(monthly, 'Schedule.Monthly') });
  }
  const once = sub(o, 'ExactlyOnce');
  if (once) found.push({ kind: 'once', time: time(once, 'Schedule.ExactlyOnce') });
  if (found.length > 1) fail('ValidationFailed', 'Schedule must set one of Immediate, Interval, Daily, Weekly, Monthly or ExactlyOnce, not several.');
  return found[0] ?? { kind: 'off' };
}

export function scheduleWire(s: AlertSchedule): JsonObject {
  switch (s.kind) {
    case 'off':
      return {};
    case 'immediate':
      return { Immediate: true };
    case 'interval':
      return { Interval: { Minutes: s.minutes } };
    case 'daily':
      return { Daily: { Time: s.time } };
    case 'weekly':
      return { Weekly: { Days: s.days, Time: s.time } };
    case 'monthly':
      return { Monthly: { Day: s.day, Time: s.time } };
    case 'once':
      return { ExactlyOnce: { Time: s.time } };
  }
}

// Alerts ------------------------------------------------------------------------------------------

function readAlert(b: JsonObject): AlertInput {
  const displayName = str(b, 'DisplayName', { required: true, nonEmpty: true, max: 400 })!;
  const warningDays = int(b, 'ExpirationWarningDays', { required: true, min: 0 })!;
  if (warningDays > MAX_WARNING_DAYS) fail('ValidationFailed', `ExpirationWarningDays must be at most ${MAX_WARNING_DAYS}.`);
  const query = int(b, 'CertificateQueryId', { min: 0 });
  const recipientsRaw = field(b, 'Recipients');
  if (recipientsRaw !== undefined && recipientsRaw !== null && (!Array.isArray(recipientsRaw) || !recipientsRaw.every((r) => typeof r === 'string')))
    fail('ValidationFailed', 'Recipients must be a list of e-mail addresses (or {token}s).');
  const recipients = ((recipientsRaw as string[] | null | undefined) ?? []).map((r) => r.trim()).filter((r) => r !== '');
  if (recipients.length > 100 || recipients.some((r) => r.length > 320)) fail('ValidationFailed', 'Recipients: at most 100 addresses of at most 320 characters.');
  const handler = sub(b, 'RegisteredEventHandler');
  const paramsRaw = field(b, 'EventHandlerParameters');
  if (paramsRaw !== undefined && paramsRaw !== null && !Array.isArray(paramsRaw)) fail('ValidationFailed', 'EventHandlerParameters must be a list.');
  return {
    displayName,
    subject: str(b, 'Subject', { max: 1000 }),
    message: str(b, 'Message', { max: 64 * 1024 }),
    warningDays,
    collectionId: query === null || query === 0 ? null : query,
    recipients,
    useWorkflows: bool(b, 'UseWorkflows') ?? false,
    eventHandler: handler ? { id: int(handler, 'Id', { required: true })!, useHandler: bool(handler, 'UseHandler') ?? false } : null,
    eventHandlerParameters: ((paramsRaw as Json[] | null | undefined) ?? []).map((p, i) => {
      const o = asObject(p, `EventHandlerParameters[${i}]`);
      return {
        key: str(o, 'Key', { required: true, max: 200 })!,
        defaultValue: str(o, 'DefaultValue', { max: 4000 }) ?? '',
        parameterType: str(o, 'ParameterType', { max: 200 }) ?? '',
      };
    }),
    schedule: ownSchedule(readSchedule(field(b, 'Schedule'))),
  };
}

/** An alert without a schedule of its own (none, null or {}) follows the global one. */
const ownSchedule = (s: AlertSchedule | null): AlertSchedule | null => (s === null || s.kind === 'off' ? null : s);

async function alertWire(alerts: AlertService, a: Alert, global: AlertSchedule) {
  const definition = await alerts.workflowOf(a.id);
  return {
    Id: a.id,
    DisplayName: a.displayName,
    Subject: a.subject,
    Message: a.message,
    ExpirationWarningDays: a.warningDays,
    Recipients: a.recipients,
    CertificateQuery: { Id: a.collectionId ?? 0, Name: await alerts.collectionName(a.collectionId) },
    RegisteredEventHandler: { Id: a.eventHandler?.id ?? 0, DisplayName: null, UseHandler: a.eventHandler?.useHandler ?? false },
    EventHandlerParameters: a.eventHandlerParameters.map((p, i) => ({ Id: i + 1, Key: p.key, DefaultValue: p.defaultValue, ParameterType: p.parameterType })),
    UseWorkflows: a.useWorkflows,
    WorkflowId: definition?.id ?? null,
    WorkflowName: definition?.displayName ?? null,
    WorkflowPublishedVersion: definition?.publishedVersion ?? null,
    WorkflowEnabled: definition ? definition.enabled : null,
    // The alert's own schedule, else the global one it follows.
    Schedule: scheduleWire(a.schedule ?? global),
  };
}

function builtWire(b: BuiltAlert, sendDate: string | null) {
  return {
    CAName: b.caName,
    CARow: b.certificate.id,
    IssuedCN: b.certificate.issuedCn,
    Expiry: b.certificate.notAfter,
    Subject: b.subject,
    Message: b.message,
    Recipients: b.recipients,
    SendDate: sendDate,
  };
}

function dateIn(b: JsonObject, name: string, dflt: string): string {
  const v = str(b, name, { max: 64 });
  if (v === null || v.trim() === '') return dflt;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms) || ms < Date.parse('1900-01-01T00:00:00Z') || ms > Date.parse('9000-01-01T00:00:00Z'))
    fail('ValidationFailed', `${name} must be a date-time such as 2026-01-01T00:00:00Z.`);
  return new Date(ms).toISOString();
}

// Collections --------------------------------------------------------------------------------------

function readCollection(b: JsonObject): CollectionInput {
  const duplicationField = int(b, 'DuplicationField', { min: 0 }) ?? 0;
  if (duplicationField > 4) fail('ValidationFailed', 'DuplicationField must be 0 to 4.');
  return {
    name: str(b, 'Name', { required: true, nonEmpty: true, max: 100 })!.trim(),
    description: str(b, 'Description', { max: 1000 }),
    query: str(b, 'Query', { max: 16 * 1024 }) ?? '',
    duplicationField,
    showOnDashboard: bool(b, 'ShowOnDashboard') ?? false,
    favorite: bool(b, 'Favorite') ?? false,
  };
}

const collectionQueryWire = (c: CollectionRecord, estimate: number | null) => ({
  Id: c.id,
  Name: c.name,
  Description: c.description,
  Automated: false,
  Content: c.query,
  DuplicationField: c.duplicationField,
  ShowOnDashboard: c.showOnDashboard,
  Favorite: c.favorite,
  EstimatedCertCount: estimate ?? 0,
  LastEstimated: estimate === null ? null : new Date().toISOString(),
});

const collectionResponseWire = (c: CollectionRecord, estimate: number) => ({
  Id: c.id,
  Name: c.name,
  Description: c.description,
  Content: c.query,
  Query: c.query,
  DuplicationField: c.duplicationField,
  ShowOnDashboard: c.showOnDashboard,
  Favorite: c.favorite,
  EstimatedCertCount: estimate,
  LastEstimated: new Date().toISOString(),
});

/** Certificate collections, expiration alerts (CRUD, schedule, tests) and renewal. */
export const alertRoutes =
  (alerts: AlertService, certs: CertificateService, renewal: Renewal): FastifyPluginAsync =>
  async (app) => {
    // Collections (saved certificate queries) ------------------------------------------------------
    app.get('/CertificateCollections', async (req) => {
      requirePermission(req, P.certificatesRead);
      return page(req, await alerts.listCollections(), COLLECTION_FIELDS, (c) => ({ Id: c.id, Name: c.name, Description: c.description })).map((c) => collectionQueryWire(c, null));
    });

    app.get<{ Params: { id: string } }>('/CertificateCollections/:id', async (req) => {
      requirePermission(req, P.certificatesRead);
      const c = await alerts.getCollection(intParam(req.params.id, 'Collection id'));
      return collectionQueryWire(c, await alerts.estimate(c));
    });

    app.post('/CertificateCollections', async (req) => {
      requirePermission(req, P.collectionsModify);
      const b = asObject(req.body ?? null);
      const created = await alerts.createCollection(readCollection(b), int(b, 'CopyFromId', { min: 1 }));
      return collectionResponseWire(created, await alerts.estimate(created));
    });

    app.put('/CertificateCollections', async (req) => {
      requirePermission(req, P.collectionsModify);
      const b = asObject(req.body ?? null);
      const updated = await alerts.updateCollection(int(b, 'Id', { required: true, min: 1 })!, readCollection(b));
      return collectionResponseWire(updated, await alerts.estimate(updated));
    });

    app.delete<{ Params: { id: string } }>('/CertificateCollections/:id', async (req, reply) => {
      requirePermission(req, P.collectionsModify);
      await alerts.deleteCollection(intParam(req.params.id, 'Collection id'));
      reply.code(204).send();
    });

    // Expiration alerts ----------------------------------------------------------------------------
    app.get('/Alerts/Expiration', async (req) => {
      requirePermission(req, P.alertsRead);
      const global = await alerts.getSchedule();
      const list = page(req, await alerts.listAlerts(), ALERT_FIELDS, (a) => ({
        Id: a.id,
        DisplayName: a.displayName,
        ExpirationWarningDays: a.warningDays,
        UseWorkflows: a.useWorkflows,
      }));
      return Promise.all(list.map((a) => alertWire(alerts, a, global)));
    });

    app.get<{ Params: { id: string } }>('/Alerts/Expiration/:id', async (req) => {
      requirePermission(req, P.alertsRead);
      return alertWire(alerts, await alerts.getAlert(intParam(req.params.id, 'Alert id')), await alerts.getSchedule());
    });

    app.post('/Alerts/Expiration', async (req) => {
      requirePermission(req, P.alertsModify);
      const created = await alerts.createAlert(readAlert(asObject(req.body ?? null)));
      return alertWire(alerts, created, await alerts.getSchedule());
    });

    app.put('/Alerts/Expiration', async (req) => {
      requirePermission(req, P.alertsModify);
      const b = asObject(req.body ?? null);
      const id = int(b, 'Id', { required: true, min: 1 })!;
      const updated = await alerts.updateAlert(id, readAlert(b));
      return alertWire(alerts, updated, await alerts.getSchedule());
    });

    app.delete<{ Params: { id: string } }>('/Alerts/Expiration/:id', async (req, reply) => {
      requirePermission(req, P.alertsModify);
      await alerts.deleteAlert(intParam(req.params.id, 'Alert id'));
      reply.code(204).send();
    });

    app.get('/Alerts/Expiration/Schedule', async (req) => {
      requirePermission(req, P.alertsRead);
      return { Schedule: scheduleWire(await alerts.getSchedule()) };
    });

    app.put('/Alerts/Expiration/Schedule', async (req) => {
      requirePermission(req, P.alertsModify);
      const b = asObject(req.body ?? null);
      const s = readSchedule(field(b, 'Schedule')) ?? fail('ValidationFailed', 'Schedule is required (an empty object turns scheduled runs off).');
      return { Schedule: scheduleWire(await alerts.putSchedule(s)) };
    });

    const test = async (req: FastifyRequest, ids: number[] | null) => {
      const b = asObject(req.body ?? null);
      const evaluation = dateIn(b, 'EvaluationDate', new Date().toISOString());
      const previous = dateIn(b, 'PreviousEvaluationDate', new Date(Date.parse(evaluation) - 24 * 3600_000).toISOString());
      if (Date.parse(previous) > Date.parse(evaluation)) fail('ValidationFailed', 'PreviousEvaluationDate must not be after EvaluationDate.');
      const send = bool(b, 'SendAlerts') ?? false;
      if (send) requirePermission(req, P.alertsModify);
      const built = await alerts.test(ids, evaluation, previous, send);
      return { ExpirationAlerts: built.map((x) => builtWire(x, send ? new Date().toISOString() : null)), AlertBuildResult: 0 };
    };

    app.post('/Alerts/Expiration/Test', async (req) => {
      requirePermission(req, P.alertsRead);
      const id = int(asObject(req.body ?? null), 'AlertId', { required: true, min: 1 })!;
      return test(req, [id]);
    });

    app.post('/Alerts/Expiration/TestAll', async (req) => {
      requirePermission(req, P.alertsRead);
      return test(req, null);
    });

    // Renewal ----------------------------------------------------------------------------------------
    const renewable = async (req: FastifyRequest, by: { id: number } | { thumbprint: string }) => {
      const p = requirePermission(req, P.enrollPfx, P.enrollCsr);
      const cert = await certs.find(by, p);
      const plan = await renewal.plan(cert);
      return 'refused' in plan
        ? { AvailableRenewalType: RenewalType.None, Message: plan.refused }
        : { AvailableRenewalType: RenewalType.OneClick, Message: `Certificate ${cert.id} can be renewed with template '${plan.template.commonName}'.` };
    };

    app.get<{ Params: { id: string } }>('/Enrollment/AvailableRenewal/Id/:id', async (req) => renewable(req, { id: intParam(req.params.id, 'Certificate id') }));

    app.get<{ Params: { thumbprint: string } }>('/Enrollment/AvailableRenewal/Thumbprint/:thumbprint', async (req) => {
      const t = req.params.thumbprint.replace(/[\s:]/g, '');
      if (!/^[0-9a-f]{40}$/i.test(t)) fail('InvalidId', `Thumbprint '${req.params.thumbprint.slice(0, 80)}' is not a SHA-1 thumbprint (40 hexadecimal digits).`);
      return renewable(req, { thumbprint: t.toUpperCase() });
    });

    app.post('/Enrollment/Renew', async (req) => {
      const p = requirePermission(req, P.enrollPfx, P.enrollCsr);
      const b = asObject(req.body ?? null);
      const id = int(b, 'CertificateId', { min: 1 });
      const thumbprint = str(b, 'Thumbprint', { max: 200 })?.replace(/[\s:]/g, '');
      if (id === null && !thumbprint) fail('ValidationFailed', 'Give CertificateId or Thumbprint of the certificate to renew.');
      const cert = await certs.find(id !== null ? { id } : { thumbprint: thumbprint!.toUpperCase() }, p);
      const patternId = int(b, 'EnrollmentPatternId', { min: 1 });
      const template = patternId === null ? null : (await certs.resolveTemplate(null, patternId)).commonName;
      const stamp = str(b, 'Timestamp', { max: 64 });
      const out = await renewal.renew(cert, {
        // The client's Timestamp makes a retried call find its first renewal.
        idempotencyKey: stamp ? `api:${p.identity.id}:${cert.id}:${stamp}` : `api:${globalThis.crypto.randomUUID()}`,
        actor: p.identity.accountName,
        template,
        ca: str(b, 'CertificateAuthority', { max: 400 }),
      });
      return {
        KeyfactorId: out.certificate.id,
        KeyfactorRequestId: out.requestId,
        Thumbprint: out.certificate.thumbprint,
        SerialNumber: out.certificate.serialNumber,
        IssuerDN: out.certificate.issuerDn,
        RequestDisposition: 'ISSUED',
        DispositionMessage: out.certificate.sealedKey
          ? `Renewed as certificate ${out.certificate.id}; its new private key is kept for POST /Certificates/Recover.`
          : `Renewed as certificate ${out.certificate.id}.`,
        Password: null,
      };
    });
  };
