/**
 * RFC 8555 objects as plain data. Stored as JSON bodies (src/store/acme-store.ts); `rev` is the
 * optimistic-concurrency counter the store compares on every save.
 */

export type IdentifierType = 'dns' | 'ip';
export interface AcmeIdentifier {
  type: IdentifierType;
  value: string;
}

export type ChallengeType = 'http-01' | 'dns-01';
export const CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01'];

/** RFC 8555 §6.7 problem document (detail for humans; subproblems per identifier). */
export interface Problem {
  type: string;
  detail: string;
  status?: number;
  subproblems?: { type: string; detail: string; identifier?: AcmeIdentifier }[];
}

/** One ACME directory (`/ACME/<name>/directory`; `default` at `/ACME/directory`) and its policy. */
export interface AcmeProfile {
  name: string;
  /** Template short name enrollments use; null: the first template (a fresh store's default). */
  template: string | null;
  /** CA selector (`Host\\Logical` or logical name); null: the first CA the template allows. */
  certificateAuthority: string | null;
  requireEab: boolean;
  challengeTypes: ChallengeType[];
  /** DNS suffixes an identifier must fall under (`example.test` allows it and its subdomains); empty: any name. */
  allowedDomains: string[];
  /** CIDRs an IP identifier must fall in; empty: any address. */
  allowedIpRanges: string[];
  /** Whether wildcard names (`*.x`, dns-01 only) may be ordered. */
  allowWildcards: boolean;
  orderLifetimeSeconds: number;
  /** Orders not yet valid or invalid one account may hold at once. */
  maxPendingOrders: number;
}

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export interface AcmeAccount {
  id: string;
  profile: string;
  /** RFC 7638 thumbprint of the account key (SHA-256, base64url): unique per profile. */
  thumbprint: string;
  jwk: Record<string, unknown>;
  status: AccountStatus;
  contact: string[];
  /** The Countersign identity an External Account Binding tied this account to. */
  identityId: number | null;
  eabKid: string | null;
  createdAt: string;
  rev: number;
}

export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export interface AcmeOrder {
  id: string;
  accountId: string;
  profile: string;
  status: OrderStatus;
  expires: string;
  identifiers: AcmeIdentifier[];
  authzIds: string[];
  notBefore: string | null;
  notAfter: string | null;
  /** The enrollment request finalize created (its workflow decides). */
  requestId: number | null;
  certificateId: number | null;
  error: Problem | null;
  createdAt: string;
  rev: number;
}

export type AuthzStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export interface AcmeChallenge {
  id: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated: string | null;
  error: Problem | null;
  /** What the server saw (for approvers): the URL or name queried and the address. */
  record: Record<string, string> | null;
}
export interface AcmeAuthz {
  id: string;
  orderId: string;
  accountId: string;
  identifier: AcmeIdentifier;
  wildcard: boolean;
  status: AuthzStatus;
  expires: string;
  challenges: AcmeChallenge[];
  rev: number;
}

/** An EAB key (RFC 8555 §7.3.4): an HMAC key an administrator hands out, bound to one identity. */
export interface EabKey {
  kid: string;
  identityId: number;
  /** Null: any profile. */
  profile: string | null;
  /** HMAC key, sealed (key protection) in the store. */
  sealedKey: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  accountId: string | null;
}
