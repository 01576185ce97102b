import type { AcmeAccount, AcmeAuthz, AcmeOrder, AcmeProfile, EabKey } from '../domain/acme/types.ts';
import { json, type Row } from './row-values.ts';

/*
 * Row mapping of the ACME server's objects, shared by both stores. Each object is a JSON body
 * (text in both databases) plus the columns the stores look it up by; `rev` has its own column.
 */

/** The object in the body, with the revision from its column when the row has one. */
export const fromBody = <T>(row: Row): T => {
  const body = json<T & { rev?: number }>(row.body);
  if (row.rev !== undefined) body.rev = Number(row.rev);
  return body;
};

/** The JSON body without the revision (kept in its own column). */
export const toBody = (o: { rev?: number }): string => {
  const { rev: _rev, ...rest } = o;
  return JSON.stringify(rest);
};

export const ACCOUNT_COLUMNS = ['id', 'profile', 'thumbprint', 'body', 'rev'] as const;
export const accountValues = (a: AcmeAccount): unknown[] => [a.id, a.profile, a.thumbprint, toBody(a), a.rev];

export const ORDER_COLUMNS = ['id', 'account_id', 'status', 'expires', 'certificate_id', 'body', 'rev'] as const;
export const orderValues = (o: AcmeOrder): unknown[] => [o.id, o.accountId, o.status, o.expires, o.certificateId, toBody(o), o.rev];

export const AUTHZ_COLUMNS = ['id', 'order_id', 'body', 'rev'] as const;
export const authzValues = (a: AcmeAuthz): unknown[] => [a.id, a.orderId, toBody(a), a.rev];

/** Authorizations in the order their order lists them (neither table keeps insertion order reliably). */
export function inOrderOf(ids: string[], authzs: AcmeAuthz[]): AcmeAuthz[] {
  const pos = new Map(ids.map((id, i) => [id, i]));
  return [...authzs].sort((a, b) => (pos.get(a.id) ?? 0) - (pos.get(b.id) ?? 0));
}

/** Expired nonces are deleted once every this many consumed ones. */
export const NONCE_PRUNE_EVERY = 200;

/** The row a nonce's DELETE ... RETURNING gave back: valid only if it existed and has not expired. */
export const nonceWasValid = (deleted: Row | undefined, nowMs: number): boolean => deleted !== undefined && Number(deleted.expires_at) > nowMs;

export const toEabKey = (r: Row): EabKey => json<EabKey>(r.body);

/** The key after revocation, or null when it is revoked already (nothing to write). */
export const revokedEabKey = (k: EabKey, at: string): EabKey | null => (k.revokedAt ? null : { ...k, revokedAt: at });

/** The key bound to the account, or null when it may not be: revoked, or bound to another account. */
export const boundEabKey = (k: EabKey, accountId: string): EabKey | null => (k.revokedAt || (k.accountId !== null && k.accountId !== accountId) ? null : { ...k, accountId });

export const toProfile = (r: Row): AcmeProfile => json<AcmeProfile>(r.body);

/** Profiles are keyed by their lower-cased name. */
export const profileKey = (name: string): string => name.toLowerCase();
