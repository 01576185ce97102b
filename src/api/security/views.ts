import { createHash } from 'node:crypto';
import { USER_CLAIM } from '../../domain/membership.ts';
import { LOCAL_PROVIDER_SCHEME, claimsView } from '../../domain/security/roles.ts';
import type { Json, JsonObject } from '../../domain/types.ts';
import { LEAF_PERMISSIONS } from '../../security/permission-set.ts';
import { PERMISSIONS, grants, toLegacy } from '../../security/permissions.ts';
import type { RoleWithMembers } from '../../service/security.ts';
import type { Identity, Role, RoleClaim } from '../../store/store.ts';

/*
 * Response bodies of the security resources, as pure functions of what the SecurityService
 * loaded. Version-1 views list a role's members (direct and through User claims); version-2
 * views list its claims, with each direct member shown as a User claim whose Id is minus the
 * identity id (it has no claim row).
 */

/** CSS.CMS.Core.Enums.ClaimType 0..6, as the names appear in responses. */
export const CLAIM_TYPES = ['User', 'Group', 'Computer', 'OAuthOid', 'OAuthRole', 'OAuthSubject', 'OAuthClientId'] as const;
export { USER_CLAIM, LOCAL_PROVIDER_SCHEME };

/** Deterministic provider id per authentication scheme (a name-based, version-5-style UUID). */
function providerId(scheme: string): string {
  const h = createHash('sha1').update(`countersign-provider:${scheme.toLowerCase()}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function claimV2(c: RoleClaim): JsonObject {
  return {
    Id: c.id,
    Description: c.description,
    ClaimType: CLAIM_TYPES[c.claimType] ?? String(c.claimType),
    ClaimValue: c.claimValue,
    Provider: { Id: providerId(c.providerScheme), AuthenticationScheme: c.providerScheme, DisplayName: c.providerScheme },
  };
}

/**
 * Version-1 spelling of a role's permissions. A permission that is itself in the catalogue maps
 * to its own name only ("/workflows/instances/read/" is ReadAll, even though ReadMy's string
 * starts with it); a grouping ("/", "/workflows/") expands to every permission below it.
 */
function legacyPermissions(role: Role): string[] {
  return [
    ...new Set(
      role.permissions.flatMap((c) => {
        const exact = PERMISSIONS.find((p) => p.path === c);
        return exact ? [exact.legacy] : toLegacy(c);
      }),
    ),
  ];
}

/** GET /Security/Identities/{id}: what the identity may do, and through which roles. */
export function identityPermissions(identity: Identity, roles: Role[]): JsonObject {
  const enabled = roles.filter((r) => r.enabled);
  const secured: Json[] = [];
  for (const perm of LEAF_PERMISSIONS) {
    const by = enabled.filter((r) => grants(r.permissions, perm)).map((r) => r.name);
    if (by.length) secured.push({ Permission: perm, GrantedByRoles: by });
  }
  return {
    Claim: {
      Id: identity.id,
      Description: identity.identityType,
      ClaimType: identity.identityType === 'Group' ? 'Group' : 'User',
      ClaimValue: identity.accountName,
      Provider: { Id: providerId(LOCAL_PROVIDER_SCHEME), AuthenticationScheme: LOCAL_PROVIDER_SCHEME, DisplayName: LOCAL_PROVIDER_SCHEME },
    },
    Identity: identity.accountName,
    SecuredAreaPermissions: secured,
    CollectionPermissions: [],
    ContainerPermissions: [],
    PamProviderPermissions: [],
    IdentityProviderPermissions: [],
    PamPermissions: [],
  };
}

/** v25 v1 SecurityIdentityResponse; its roles carry Identities: null (no back-reference loop). */
export function identityV1(identity: Identity, roles: Role[]): JsonObject {
  return {
    Id: identity.id,
    AccountName: identity.accountName,
    IdentityType: identity.identityType,
    Roles: roles.map((r) => roleShallowV1(r, null)),
    Valid: true,
    SID: identity.sid,
  };
}

function roleShallowV1(role: Role, identities: Json[] | null): JsonObject {
  return {
    Id: role.id,
    Description: role.description,
    EmailAddress: role.email,
    Enabled: role.enabled,
    Immutable: role.immutable,
    Valid: true,
    Private: role.private,
    PermissionSetId: role.permissionSetId,
    Identities: identities,
    Name: role.name,
    Permissions: legacyPermissions(role),
  };
}

/** v25 v1 (legacy) SecurityRoleResponse; its identities carry Roles: null. */
export function roleV1({ role, members }: RoleWithMembers): JsonObject {
  return roleShallowV1(
    role,
    members.map((i) => ({ Id: i.id, AccountName: i.accountName, IdentityType: i.identityType, Roles: null, Valid: true, SID: i.sid })),
  );
}

/** Role members as GET/PUT /Security/Roles/{id}/Identities list them. */
export const memberList = ({ members }: RoleWithMembers): Json[] => members.map((i) => ({ Id: i.id, Name: i.accountName }));

const claimsOf = ({ role, members }: RoleWithMembers): JsonObject[] => claimsView(role, members).map(claimV2);

/** v25 v2 SecurityRoleResponse. */
export function roleV2(r: RoleWithMembers): JsonObject {
  const { role } = r;
  return {
    Id: role.id,
    Name: role.name,
    Description: role.description,
    EmailAddress: role.email,
    Immutable: role.immutable,
    PermissionSetId: role.permissionSetId,
    Permissions: [...role.permissions],
    Claims: claimsOf(r),
  };
}

/** v25 v2 SecurityRoleQueryResponse (list rows). */
export function roleQueryV2(r: RoleWithMembers): JsonObject {
  const { role } = r;
  return {
    Id: role.id,
    Name: role.name,
    EmailAddress: role.email,
    Immutable: role.immutable,
    PermissionSetId: role.permissionSetId,
    ClaimsCount: claimsOf(r).length,
  };
}
