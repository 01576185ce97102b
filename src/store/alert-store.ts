import type { JsonObject } from '../domain/types.ts';

/**
 * Persistence of certificate collections (saved certificate queries), expiration alerts, what
 * each alert did per certificate, and renewals. Implemented for SQLite and PostgreSQL.
 * Starting an alert's workflow instance together with its claim is Store.startInstanceOnce.
 */
export interface AlertStore {
  listCollections(): Promise<CollectionRecord[]>;
  getCollection(id: number): Promise<CollectionRecord | null>;
  /** Throws Conflict when the name (case-insensitive) is taken. */
  insertCollection(c: Omit<CollectionRecord, 'id'>): Promise<CollectionRecord>;
  /** Throws Conflict when the name is taken; null when no such collection. */
  updateCollection(c: CollectionRecord): Promise<CollectionRecord | null>;
  deleteCollection(id: number): Promise<boolean>;

  listAlerts(): Promise<AlertRecord[]>;
  getAlert(id: number): Promise<AlertRecord | null>;
  insertAlert(body: JsonObject, setAt: string): Promise<AlertRecord>;
  /** Replaces the body; `setAt` when its schedule changed. Null when no such alert. */
  updateAlert(id: number, body: JsonObject, setAt: string | null): Promise<AlertRecord | null>;
  /** Deletes the alert and its claims. */
  deleteAlert(id: number): Promise<boolean>;
  /** Records that the alert was evaluated at `at`. */
  markAlertRun(id: number, at: string): Promise<void>;
  /** Every alert's schedule was changed (the global schedule): Immediate schedules run once more. */
  touchAllAlerts(setAt: string): Promise<void>;

  /** The (alert, certificate) pairs already acted on, for these alerts (and, when given, only these certificates). */
  listAlerted(alertIds: number[], certificateIds?: number[]): Promise<AlertedRecord[]>;
  /**
   * Claims (alert, certificate) for an e-mail: true when this call inserted the row, false when
   * it existed already (another node, an earlier run).
   */
  claimAlerted(alertId: number, certificateId: number, at: string): Promise<boolean>;
  /** Gives a claim back (the e-mail could not be sent: try again on the next run). */
  releaseAlerted(alertId: number, certificateId: number): Promise<void>;

  /** Claims that started an instance whose metadata has not been copied to the certificate yet. */
  listUnsynced(limit: number): Promise<AlertedRecord[]>;
  markSynced(alertId: number, certificateId: number): Promise<void>;

  /** A shared setting (the global alert schedule); null when never set. */
  getSetting(name: string): Promise<string | null>;
  putSetting(name: string, value: string): Promise<void>;

  /**
   * Records a renewal keyed by who asked for it; when the key exists already, returns the first
   * one (created false) and records nothing.
   */
  insertRenewal(r: Omit<RenewalRecord, 'id' | 'newCertificateId'>): Promise<{ renewal: RenewalRecord; created: boolean }>;
  findRenewalByKey(idempotencyKey: string): Promise<RenewalRecord | null>;
  setRenewalCertificate(id: number, newCertificateId: number): Promise<void>;
  /** The renewal that produced this certificate (renewed from), and the completed renewals of it (renewed by). */
  renewalsOf(certificateId: number): Promise<{ from: RenewalRecord | null; by: RenewalRecord[] }>;
  /** Which of these certificates have a completed renewal (a successor). */
  renewedAmong(certificateIds: number[]): Promise<Set<number>>;
}

export interface CollectionRecord {
  id: number;
  name: string;
  description: string | null;
  /** The QueryString over the certificate inventory. */
  query: string;
  duplicationField: number;
  showOnDashboard: boolean;
  favorite: boolean;
}

export interface AlertRecord {
  id: number;
  /** The alert's fields (service-defined shape, src/service/alerts.ts). */
  body: JsonObject;
  lastRunAt: string | null;
  setAt: string;
}

export interface AlertedRecord {
  alertId: number;
  certificateId: number;
  at: string;
  instanceId: string | null;
}

export interface RenewalRecord {
  id: number;
  idempotencyKey: string;
  oldCertificateId: number;
  requestId: number;
  newCertificateId: number | null;
  at: string;
}
