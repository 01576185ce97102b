import type { AcmeAccount, AcmeAuthz, AcmeOrder, AcmeProfile, EabKey } from '../domain/acme/types.ts';

/**
 * The ACME server's persistence port (src/service/acme). Objects are saved whole with an
 * optimistic revision check: `save*` writes only when the stored `rev` is still `expectedRev`
 * (and stores `rev + 1`), returning false when another request or node saved first; the
 * service reloads and re-decides. Nonces are rows so every node accepts every node's nonces,
 * each exactly once.
 */
export interface AcmeStore {
  addNonce(nonce: string, expiresAtMs: number): Promise<void>;
  /** Deletes the nonce; true only when it existed and had not expired (single use). Prunes expired ones now and then. */
  consumeNonce(nonce: string, nowMs: number): Promise<boolean>;

  /** Inserts unless an account with this key exists in the profile; returns the stored one. */
  insertAccount(a: AcmeAccount): Promise<{ account: AcmeAccount; created: boolean }>;
  getAccount(id: string): Promise<AcmeAccount | null>;
  findAccountByThumbprint(profile: string, thumbprint: string): Promise<AcmeAccount | null>;
  /** False when the revision moved on, or the new thumbprint is taken in the profile (key change). */
  saveAccount(a: AcmeAccount, expectedRev: number): Promise<boolean>;

  /** The order and its authorizations, in one transaction. */
  insertOrder(o: AcmeOrder, authzs: AcmeAuthz[]): Promise<void>;
  getOrder(id: string): Promise<AcmeOrder | null>;
  saveOrder(o: AcmeOrder, expectedRev: number): Promise<boolean>;
  /** Orders of the account in status pending, ready or processing that expire after `now`. */
  countPendingOrders(accountId: string, now: string): Promise<number>;
  /** Ids of the account's orders, newest first. */
  listOrderIds(accountId: string, limit: number): Promise<string[]>;
  findOrderByCertificate(certificateId: number): Promise<AcmeOrder | null>;
  getAuthz(id: string): Promise<AcmeAuthz | null>;
  /** In the order of the order's authzIds. */
  listAuthzs(orderId: string): Promise<AcmeAuthz[]>;
  saveAuthz(a: AcmeAuthz, expectedRev: number): Promise<boolean>;

  insertEabKey(k: EabKey): Promise<void>;
  getEabKey(kid: string): Promise<EabKey | null>;
  listEabKeys(): Promise<EabKey[]>;
  /** Marks the key revoked; false when there is no such key. */
  revokeEabKey(kid: string, at: string): Promise<boolean>;
  /** Binds the key to an account once: false when it is revoked or already bound to another account. */
  bindEabKey(kid: string, accountId: string): Promise<boolean>;

  listProfiles(): Promise<AcmeProfile[]>;
  getProfile(name: string): Promise<AcmeProfile | null>;
  putProfile(p: AcmeProfile): Promise<void>;
  deleteProfile(name: string): Promise<boolean>;
}
