import type { ClaimMatch } from '../domain/security/external-claims.ts';
import type { Identity, SecurityStore } from '../store/store.ts';

/** Who is calling: the identity, the roles it holds, and the permissions those roles grant. */
export interface Principal {
  identity: Identity;
  roleIds: number[];
  /** Canonical access-control strings, e.g. "/workflows/instances/read/". */
  permissions: string[];
  /** Claims an identity provider vouched for (token, directory groups); their roles count as the identity's. */
  matches?: readonly ClaimMatch[];
}

/**
 * Turns request credentials into a principal. Basic authentication is one implementation; an
 * OIDC bearer-token provider is another that can be added beside it.
 */
export interface Authenticator {
  /** Returns null when the credentials are absent or wrong. */
  authenticate(authorization: string | undefined, remoteAddress: string): Promise<Principal | null>;
  /** The WWW-Authenticate challenge to send with a 401. */
  readonly challenge: string;
}

/** The principal of an identity: its enabled roles (also through vouched-for claims) and the permissions they grant. */
export async function principalFor(store: SecurityStore, identity: Identity, matches: readonly ClaimMatch[] = []): Promise<Principal> {
  const roles = (await store.rolesOfIdentity(identity, matches)).filter((r) => r.enabled);
  const permissions = [...new Set(roles.flatMap((r) => r.permissions))].sort();
  return { identity, roleIds: roles.map((r) => r.id).sort((a, b) => a - b), permissions, ...(matches.length ? { matches } : {}) };
}
