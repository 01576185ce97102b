import { toPem } from '../certificates/x509.ts';
import { describeCertificate } from '../certificates/describe.ts';
import {
  alertedKey,
  daysRemaining,
  DAY_MS,
  enteringBetween,
  isDue,
  planExpirationAlerts,
  renderAlertText,
  type AlertAction,
  type AlertSchedule,
  type AlertTokenFacts,
  type AlertToCheck,
  type CertificateToCheck,
} from '../domain/alerts.ts';
import { fail } from '../domain/errors.ts';
import { isTerminal } from '../domain/status.ts';
import { escapeHtml } from '../domain/html.ts';
import { bindQuery, evaluateQuery, parseQuery, QueryError, type BoundAst, type FieldSpec } from '../domain/query/index.ts';
import type { JsonObject } from '../domain/types.ts';
import type { AlertRecord, CollectionRecord } from '../store/alert-store.ts';
import type { CertificateRecord } from '../store/certificate-store.ts';
import type { Store } from '../store/store.ts';
import type { WorkflowService } from './workflow.ts';

/** An expiration alert as the API reads and writes it (the stored body). */
export interface AlertInput {
  displayName: string;
  subject: string | null;
  message: string | null;
  warningDays: number;
  /** The certificate collection (saved query); null: every certificate. */
  collectionId: number | null;
  recipients: string[];
  useWorkflows: boolean;
  /** Accepted and echoed; Countersign runs no event handlers (docs/compatibility.md). */
  eventHandler: { id: number; useHandler: boolean } | null;
  eventHandlerParameters: { key: string; defaultValue: string; parameterType: string }[];
  /** The alert's own schedule; null: the global schedule (GET/PUT /Alerts/Expiration/Schedule). */
  schedule: AlertSchedule | null;
}

export interface Alert extends AlertInput {
  id: number;
  lastRunAt: string | null;
  setAt: string;
}

export interface CollectionInput {
  name: string;
  description: string | null;
  query: string;
  duplicationField: number;
  showOnDashboard: boolean;
  favorite: boolean;
}

/** One e-mail an alert builds for a certificate (what POST /Alerts/Expiration/Test lists). */
export interface BuiltAlert {
  alertId: number;
  certificate: CertificateRecord;
  caName: string | null;
  subject: string;
  message: string;
  recipients: string[];
}

export interface AlertMail {
  to: string[];
  subject: string;
  html: string;
  messageId: string;
  idempotencyKey: string;
}

export interface AlertServiceOptions {
  /** The inventory's QueryString fields (GET /Certificates), which collections query. */
  certificateFields: FieldSpec[];
  /** Sends an alert e-mail (SMTP); throws when it cannot. */
  send: (mail: AlertMail) => Promise<void>;
  log: (msg: string, err?: unknown) => void;
  /** CA display names by id (`host\\logical`). */
  caName: (caId: number | null) => string | null;
}

const SCHEDULE_SETTING = 'expiration_alert_schedule';
/** Until an operator sets one: every day at 06:00 UTC. */
export const DEFAULT_SCHEDULE: AlertSchedule = { kind: 'daily', time: '1970-01-01T06:00:00.000Z' };
/** How many certificates one query page reads while gathering candidates. */
const PAGE = 1000;

/**
 * Certificate collections and expiration alerts: CRUD, the test endpoints, and the scheduled run
 * (called by src/runner/alert-scheduler.ts). What an alert does is decided by the pure
 * planExpirationAlerts; this class loads its inputs and carries out each action once: a workflow
 * start is claimed in its own transaction (Store.startInstanceOnce), an e-mail is claimed first
 * and the claim given back when sending fails.
 */
export class AlertService {
  constructor(
    private readonly store: Store,
    private readonly workflow: WorkflowService,
    private readonly opts: AlertServiceOptions,
  ) {}

  // Collections -----------------------------------------------------------------------------------

  listCollections(): Promise<CollectionRecord[]> {
    return this.store.alerts.listCollections();
  }

  async getCollection(id: number): Promise<CollectionRecord> {
    return (await this.store.alerts.getCollection(id)) ?? fail('NotFound', `No certificate collection has Id ${id}.`);
  }

  async createCollection(input: CollectionInput, copyFromId: number | null): Promise<CollectionRecord> {
    const query = copyFromId !== null && input.query === '' ? (await this.getCollection(copyFromId)).query : input.query;
    await this.bindCollectionQuery(query);
    return this.store.alerts.insertCollection({ ...input, query });
  }

  async updateCollection(id: number, input: CollectionInput): Promise<CollectionRecord> {
    await this.bindCollectionQuery(input.query);
    return (await this.store.alerts.updateCollection({ id, ...input })) ?? fail('NotFound', `No certificate collection has Id ${id}.`);
  }

  async deleteCollection(id: number): Promise<void> {
    const users = (await this.listAlerts()).filter((a) => a.collectionId === id);
    if (users.length) fail('Conflict', `Certificate collection ${id} is used by expiration alert(s) ${users.map((a) => a.id).join(', ')}; change or delete them first.`);
    if (!(await this.store.alerts.deleteCollection(id))) fail('NotFound', `No certificate collection has Id ${id}.`);
  }

  /** How many certificates (not expired) the collection holds now. */
  async estimate(c: CollectionRecord): Promise<number> {
    const bound = await this.bindCollectionQuery(c.query);
    let n = 0;
    for await (const page of this.pages(null, false)) n += page.filter((x) => evaluateQuery(bound, x.fields)).length;
    return n;
  }

  /** Collections query the inventory's fields and, by name, every metadata field. */
  private async fields(): Promise<FieldSpec[]> {
    const own = this.opts.certificateFields.map((f) => ({ ...f, key: f.column }));
    const names = new Set(own.flatMap((f) => [f.name, ...(f.aliases ?? [])].map((n) => n.toLowerCase())));
    const metadata = (await this.store.certificates.listMetadataFields())
      .filter((m) => !names.has(m.name.toLowerCase()))
      .map((m): FieldSpec => ({ name: m.name, type: 'string', column: 'metadata', key: `metadata:${m.name.toLowerCase()}` }));
    return [...own, ...metadata];
  }

  private async bindCollectionQuery(query: string): Promise<BoundAst | null> {
    try {
      return bindQuery(parseQuery(query), await this.fields());
    } catch (e) {
      if (e instanceof QueryError) return fail('InvalidQuery', `The collection's query is not valid: ${e.message}`);
      throw e;
    }
  }

  // Alerts ----------------------------------------------------------------------------------------

  async listAlerts(): Promise<Alert[]> {
    return (await this.store.alerts.listAlerts()).map(toAlert);
  }

  async getAlert(id: number): Promise<Alert> {
    const r = (await this.store.alerts.getAlert(id)) ?? fail('NotFound', `No expiration alert has Id ${id}.`);
    return toAlert(r);
  }

  async createAlert(input: AlertInput): Promise<Alert> {
    await this.checkAlert(input);
    return toAlert(await this.store.alerts.insertAlert(alertBody(input), new Date().toISOString()));
  }

  async updateAlert(id: number, input: AlertInput): Promise<Alert> {
    const before = await this.getAlert(id);
    await this.checkAlert(input);
    const scheduleChanged = JSON.stringify(before.schedule) !== JSON.stringify(input.schedule);
    const r =
      (await this.store.alerts.updateAlert(id, alertBody(input), scheduleChanged ? new Date().toISOString() : null)) ?? fail('NotFound', `No expiration alert has Id ${id}.`);
    return toAlert(r);
  }

  async deleteAlert(id: number): Promise<void> {
    if (!(await this.store.alerts.deleteAlert(id))) fail('NotFound', `No expiration alert has Id ${id}.`);
  }

  private async checkAlert(a: AlertInput): Promise<void> {
    if (a.collectionId !== null)
      await this.store.alerts.getCollection(a.collectionId).then((c) => c ?? fail('ValidationFailed', `No certificate collection has Id ${a.collectionId}.`));
  }

  /** The bound Expiration definition (Key = alert id), if any. */
  workflowOf(alertId: number) {
    return this.store.findBoundDefinition('Expiration', String(alertId));
  }

  collectionName(id: number | null): Promise<string | null> {
    return id === null ? Promise.resolve(null) : this.store.alerts.getCollection(id).then((c) => c?.name ?? null);
  }

  // Schedule --------------------------------------------------------------------------------------

  async getSchedule(): Promise<AlertSchedule> {
    const raw = await this.store.alerts.getSetting(SCHEDULE_SETTING);
    return raw ? (JSON.parse(raw) as AlertSchedule) : DEFAULT_SCHEDULE;
  }

  async putSchedule(s: AlertSchedule): Promise<AlertSchedule> {
    await this.store.alerts.putSetting(SCHEDULE_SETTING, JSON.stringify(s));
    // Alerts following the global schedule start counting from now (an Immediate one runs once more).
    await this.store.alerts.touchAllAlerts(new Date().toISOString());
    return s;
  }

  // Runs ------------------------------------------------------------------------------------------

  /** Runs every alert whose schedule is due (the alert scheduler's tick). Returns the actions taken. */
  async runDue(now = new Date().toISOString()): Promise<AlertAction[]> {
    const global = await this.getSchedule();
    const due = (await this.listAlerts()).filter((a) => isDue(a.schedule ?? global, a.lastRunAt, a.setAt, now));
    if (!due.length) return [];
    const done = await this.run(due, now);
    for (const a of due) await this.store.alerts.markAlertRun(a.id, now);
    return done;
  }

  /**
   * What finished Expiration instances wrote with UpdateMetadata (e.g. the auto-renew export's
   * Retired = True) goes onto their certificate: the keys whose value differs from the
   * certificate's metadata the instance started with. Once per instance.
   */
  async syncFinished(limit = 200): Promise<number> {
    let copied = 0;
    for (const claim of await this.store.alerts.listUnsynced(limit)) {
      const instance = await this.store.getInstance(claim.instanceId!);
      if (instance && !isTerminal(instance.status)) continue;
      if (instance?.status === 'Complete') {
        const seed = (instance.initialData.Metadata ?? {}) as JsonObject;
        const written = Object.fromEntries(
          Object.entries(instance.metadata)
            .filter(([k, v]) => v !== null && typeof v !== 'object' && seed[k] !== v)
            .map(([k, v]) => [k, String(v)]),
        );
        const cert = Object.keys(written).length ? await this.store.certificates.getCertificate(claim.certificateId) : null;
        if (cert) {
          await this.store.certificates.updateCertificateMetadata(cert.id, { ...cert.metadata, ...written });
          await this.store.certificates.addCertificateHistory(cert.id, {
            at: new Date().toISOString(),
            username: `workflow:${instance.referenceId}`,
            action: 'MetadataUpdated',
            comment: Object.keys(written).join(', '),
          });
          copied++;
        }
      }
      await this.store.alerts.markSynced(claim.alertId, claim.certificateId);
    }
    return copied;
  }

  /** Evaluates these alerts now and carries out what the plan says, each (alert, certificate) once. */
  async run(alerts: Alert[], now: string): Promise<AlertAction[]> {
    const checks = await Promise.all(alerts.map((a) => this.toCheck(a)));
    const maxDays = Math.max(...checks.map((c) => c.warningDays));
    const certificates: CertificateToCheck[] = [];
    const byId = new Map<number, CertificateRecord>();
    for await (const page of this.pages({ from: now, to: new Date(Date.parse(now) + maxDays * DAY_MS).toISOString() }, false, now)) {
      for (const c of page) {
        certificates.push(c);
        byId.set(c.id, c.record);
      }
    }
    const renewed = await this.store.alerts.renewedAmong([...byId.keys()]);
    for (const c of certificates) c.renewed = renewed.has(c.id);
    // Only the claims of certificates near expiry: the table grows with every certificate ever alerted.
    const already = new Set(
      (
        await this.store.alerts.listAlerted(
          alerts.map((a) => a.id),
          [...byId.keys()],
        )
      ).map((r) => alertedKey(r.alertId, r.certificateId)),
    );
    const actions = planExpirationAlerts(checks, certificates, now, already);
    const done: AlertAction[] = [];
    for (const action of actions) {
      const alert = alerts.find((a) => a.id === action.alertId)!;
      const cert = byId.get(action.certificateId)!;
      try {
        if (await this.act(action, alert, cert, now)) done.push(action);
      } catch (e) {
        this.opts.log(`Expiration alert ${alert.id} could not act on certificate ${cert.id}; it is tried again on the next run.`, e);
      }
    }
    return done;
  }

  private async act(action: AlertAction, alert: Alert, cert: CertificateRecord, now: string): Promise<boolean> {
    const claim = { alertId: alert.id, certificateId: cert.id, at: now };
    if (action.kind === 'workflow') {
      const definition = await this.workflowOf(alert.id);
      // Nothing to start yet: unclaimed, so the certificate is handled once a definition is bound.
      if (!definition || definition.publishedVersion === null) return false;
      const facts = await this.tokenFacts(alert, cert, now);
      const { initialData, trustedData } = expirationData(facts, cert);
      const instance = await this.workflow.startForAlert(
        claim,
        definition,
        `Expiration of ${cert.issuedCn ?? cert.issuedDn} (alert ${alert.displayName})`,
        initialData,
        trustedData,
      );
      return instance !== null;
    }
    if (!(await this.store.alerts.claimAlerted(alert.id, cert.id, now))) return false;
    try {
      const mail = this.build(alert, cert, await this.tokenFacts(alert, cert, now));
      if (mail.recipients.length === 0) {
        this.opts.log(`Expiration alert ${alert.id} has no recipients for certificate ${cert.id}; nothing was sent.`);
        return true;
      }
      await this.opts.send({
        to: mail.recipients,
        subject: mail.subject,
        html: mail.message,
        messageId: `<expiration-alert-${alert.id}-certificate-${cert.id}@countersign>`,
        idempotencyKey: `alert:${alert.id}/${cert.id}`,
      });
      return true;
    } catch (e) {
      await this.store.alerts.releaseAlerted(alert.id, cert.id);
      throw e;
    }
  }

  /**
   * POST /Alerts/Expiration/Test(All): the e-mails the alerts would build for the certificates
   * that enter their window between the two dates (at most `limit`); sent when sendAlerts, without
   * recording anything, so the scheduled run still acts on them.
   */
  async test(alertIds: number[] | null, evaluation: string, previous: string, sendAlerts: boolean, limit = 100): Promise<BuiltAlert[]> {
    const alerts = alertIds === null ? await this.listAlerts() : await Promise.all(alertIds.map((id) => this.getAlert(id)));
    const out: BuiltAlert[] = [];
    for (const alert of alerts) {
      const check = await this.toCheck(alert);
      const certs: (CertificateToCheck & { record: CertificateRecord })[] = [];
      for await (const page of this.pages({ from: evaluation, to: new Date(Date.parse(evaluation) + alert.warningDays * DAY_MS).toISOString() }, true)) certs.push(...page);
      for (const c of enteringBetween(check, certs, previous, evaluation)) {
        if (out.length >= limit) break;
        const record = certs.find((x) => x.id === c.id)!.record;
        out.push(this.build(alert, record, await this.tokenFacts(alert, record, evaluation)));
      }
    }
    if (sendAlerts)
      for (const b of out) {
        const alert = alerts.find((a) => a.id === b.alertId)!;
        if (alert.useWorkflows || b.recipients.length === 0) continue;
        await this.opts.send({
          to: b.recipients,
          subject: b.subject,
          html: b.message,
          messageId: `<expiration-alert-test-${alert.id}-certificate-${b.certificate.id}-${Date.now()}@countersign>`,
          idempotencyKey: `alert-test:${alert.id}/${b.certificate.id}`,
        });
      }
    return out;
  }

  private build(alert: Alert, cert: CertificateRecord, facts: AlertTokenFacts): BuiltAlert {
    return {
      alertId: alert.id,
      certificate: cert,
      caName: facts.caname,
      // One header line: a CN or metadata value cannot start another header.
      subject: renderAlertText(alert.subject ?? 'Certificate {cn} expires on {expdate}', facts, (v) => v.replace(/[\r\n\t\u2028\u2029]+/g, ' ')),
      message: renderAlertText(alert.message ?? '<p>The certificate {cn} expires on {expdate}.</p>', facts, escapeHtml),
      recipients: [
        ...new Set(
          alert.recipients
            .flatMap((r) => renderAlertText(r, facts).split(/[;,]/))
            .map((r) => r.trim())
            .filter((r) => /^[^\s@<>]+@[^\s@<>]+$/.test(r)),
        ),
      ],
    };
  }

  private async tokenFacts(alert: Alert, cert: CertificateRecord, now: string): Promise<AlertTokenFacts> {
    const template = cert.templateId === null ? null : await this.store.certificates.getTemplate(cert.templateId);
    const d = describeCertificate(cert.der);
    const owner = cert.requesterId === null ? null : await this.store.getIdentity(cert.requesterId);
    return {
      certid: cert.id,
      cn: cert.issuedCn,
      dn: cert.issuedDn,
      sans: Object.values(d.sans).flat().join(', '),
      expdate: cert.notAfter,
      issuancedate: cert.notBefore,
      serial: cert.serialNumber,
      thumbprint: cert.thumbprint,
      issuerdn: cert.issuerDn,
      caname: this.opts.caName(cert.caId),
      template: template?.commonName ?? null,
      requester: cert.requesterName,
      ownerroleemail: owner?.email ?? null,
      daysremaining: daysRemaining(cert.notAfter, now),
      alertname: alert.displayName,
      alertid: alert.id,
      metadata: cert.metadata,
    };
  }

  private async toCheck(a: Alert): Promise<AlertToCheck> {
    const collection = a.collectionId === null ? null : await this.store.alerts.getCollection(a.collectionId);
    // A deleted collection matches nothing rather than everything.
    const bound = a.collectionId === null ? null : collection ? await this.bindCollectionQuery(collection.query) : NOTHING;
    return { id: a.id, warningDays: a.warningDays, useWorkflows: a.useWorkflows, collection: bound };
  }

  /** The inventory in pages, optionally only certificates with from < NotAfter <= to. */
  private async *pages(
    window: { from: string; to: string } | null,
    includeExpired: boolean,
    now = new Date().toISOString(),
  ): AsyncGenerator<(CertificateToCheck & { record: CertificateRecord })[]> {
    const notAfter = this.opts.certificateFields.find((f) => f.name === 'NotAfter')!;
    const filter: BoundAst | null = window
      ? { kind: 'and', left: { kind: 'cmp', field: notAfter, op: 'gt', value: window.from }, right: { kind: 'cmp', field: notAfter, op: 'le', value: window.to } }
      : null;
    for (let offset = 0; ; offset += PAGE) {
      const rows = await this.store.certificates.queryCertificates({ filter, limit: PAGE, offset, sortColumn: 'id', ascending: true, includeExpired, now });
      yield rows.map((record) => ({ id: record.id, notAfter: record.notAfter, renewed: false, fields: recordFields(record), record }));
      if (rows.length < PAGE) return;
    }
  }
}

/** A bound query no certificate satisfies (Id is null). */
const NOTHING: BoundAst = { kind: 'cmp', field: { name: 'Id', type: 'integer', column: 'id', key: 'id' }, op: 'eq', value: null };

/** The values collection queries read, keyed by store column (and metadata:<lower-case name>). */
function recordFields(c: CertificateRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: c.id,
    request_id: c.requestId,
    issued_cn: c.issuedCn,
    issued_dn: c.issuedDn,
    issuer_dn: c.issuerDn,
    thumbprint: c.thumbprint,
    serial_number: c.serialNumber,
    not_before: c.notBefore,
    not_after: c.notAfter,
    import_date: c.importDate,
    template_id: c.templateId,
    ca_id: c.caId,
    requester_id: c.requesterId,
    requester_name: c.requesterName,
    key_size: c.keySize,
    key_type: c.keyType,
  };
  for (const [k, v] of Object.entries(c.metadata)) out[`metadata:${k.toLowerCase()}`] = v;
  return out;
}

/**
 * The Expiration instance's data: what the exported definitions' tokens read ($(certid), $(cn),
 * $(expdate), $(issuancedate), $(thumbprint), $(ownerroleemail), $(metadata:Name), ...). The
 * certificate's facts come from the server's records, so they are trusted too, except the
 * subject names and metadata, which the requester once chose.
 */
function expirationData(f: AlertTokenFacts, cert: CertificateRecord): { initialData: JsonObject; trustedData: JsonObject } {
  const trustedData: JsonObject = {
    certid: cert.id,
    CertificateId: cert.id,
    thumbprint: cert.thumbprint,
    serial: cert.serialNumber,
    SerialNumberString: cert.serialNumber,
    expdate: cert.notAfter,
    issuancedate: cert.notBefore,
    issuerdn: cert.issuerDn,
    CA: f.caname,
    template: f.template,
    RequesterName: cert.requesterName,
    ownerroleemail: f.ownerroleemail,
    alertId: f.alertid,
    AlertName: f.alertname,
    daysremaining: f.daysremaining,
    'Certificate ToBe Renewed': Buffer.from(cert.der).toString('base64'),
  };
  const initialData: JsonObject = {
    cn: cert.issuedCn,
    CN: cert.issuedCn,
    dn: cert.issuedDn,
    sans: f.sans,
    Metadata: cert.metadata,
    Certificate: toPem(cert.der),
    ...trustedData,
  };
  return { initialData, trustedData };
}

function alertBody(a: AlertInput): JsonObject {
  return a as unknown as JsonObject;
}

function toAlert(r: AlertRecord): Alert {
  const b = r.body as unknown as AlertInput;
  return { ...b, id: r.id, lastRunAt: r.lastRunAt, setAt: r.setAt };
}
