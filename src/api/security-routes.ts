import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fail } from '../domain/errors.ts';
import { evaluateQuery, type BoundAst, type FieldSpec } from '../domain/query/index.ts';
import type { Json, JsonObject } from '../domain/types.ts';
import { MIN_PASSWORD_LENGTH } from '../security/bootstrap.ts';
import { hashPassword } from '../security/password.ts';
import {
  GLOBAL_PERMISSION_SET_ID,
  GLOBAL_PERMISSION_SET_NAME,
  LEAF_PERMISSIONS,
  PERMISSION_CATALOGUE,
  isGlobalPermissionSet,
} from '../security/permission-set.ts';
import { P, PERMISSIONS, grants, toCanonical, toLegacy } from '../security/permissions.ts';
import type { Services } from '../service/services.ts';
import type { Identity, NewRole, Role, RoleClaim, SecurityStore } from '../store/store.ts';
import { principalOf, requirePermission } from './guard.ts';
import { assertSecurityChangeAllowed } from './security-guard.ts';
import { identityThrottleKey } from '../security/basic-authenticator.ts';
import { listQuery } from './listing.ts';
import { GUID, asArray, asObject, bool, field, int, intParam, str } from './wire.ts';

/*
 * /Security/Identities, /Security/Roles (version 1: "Area:Permission" strings and identity
 * members; version 2: access-control strings and claims), /PermissionSets and /Permissions.
 *
 * Membership has two spellings that mean the same thing:
 *  - direct members (role.identityIds), written by version-1 calls;
 *  - claims (role.claims); a User claim (type 0) binds the identity with that account name.
 * Version-1 views list the identities of both. Version-2 views list the claims, with each direct
 * member shown as a User claim whose Id is minus the identity id (it has no claim row). A
 * version-2 PUT with Claims makes the claims the whole membership (direct members become claims);
 * a version-1 PUT with Identities makes those the whole user membership (User claims naming other
 * existing identities are dropped; other claims stay).
 */

/** QueryString / SortField fields of GET /Security/Roles, mapped to roles columns. */
export const ROLE_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'id' },
  { name: 'Name', type: 'string', column: 'name' },
  { name: 'Description', type: 'string', column: 'description' },
  { name: 'EmailAddress', type: 'string', column: 'email', aliases: ['Email'] },
  { name: 'Enabled', type: 'boolean', column: 'enabled' },
  { name: 'Private', type: 'boolean', column: 'private' },
  { name: 'Immutable', type: 'boolean', column: 'immutable' },
  { name: 'PermissionSetId', type: 'uuid', column: 'permission_set_id' },
];

/** SortField of GET /Security/Identities (it has no QueryString). */
export const IDENTITY_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'id' },
  { name: 'AccountName', type: 'string', column: 'account_name', aliases: ['Name'] },
  { name: 'IdentityType', type: 'string', column: 'identity_type' },
];

/** CSS.CMS.Core.Enums.ClaimType 0..6, as the names appear in responses. */
export const CLAIM_TYPES = ['User', 'Group', 'Computer', 'OAuthOid', 'OAuthRole', 'OAuthSubject', 'OAuthClientId'] as const;
export const USER_CLAIM = 0;
/** The provider scheme given to claims that do not name one, and to direct members shown as claims. */
export const LOCAL_PROVIDER_SCHEME = 'Countersign';

const MAX_ACCOUNT_NAME = 256;
const MAX_PASSWORD = 1024;
/** One optional DOMAIN\ part, then the user; no colon (Basic credentials split at it), no control characters. */
const ACCOUNT_NAME = /^(?:[^\\:\u0000-\u001f\u007f]+\\)?[^\\:\u0000-\u001f\u007f]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export const securityRoutes = (s: Services): FastifyPluginAsync => async (app) => {
  const store = s.store;

  // Identities --------------------------------------------------------------------------------

  app.post('/Security/Identities', async (req) => {
    requirePermission(req, P.securityModify);
    const body = asObject(req.body);
    const accountName = readAccountName(str(body, 'AccountName', { required: true, nonEmpty: true }) as string);
    const typeRaw = str(body, 'IdentityType');
    let identityType: Identity['identityType'] = 'User';
    if (typeRaw !== null && typeRaw.trim() !== '') {
      const t = typeRaw.trim().toLowerCase();
      if (t !== 'user' && t !== 'group') fail('ValidationFailed', `IdentityType must be 'User' or 'Group', not '${typeRaw}'.`);
      identityType = t === 'group' ? 'Group' : 'User';
    }
    const password = str(body, 'Password');
    if (password !== null) {
      if (identityType === 'Group') fail('ValidationFailed', 'Password cannot be set on a Group identity: groups do not sign in.');
      if (password.length < MIN_PASSWORD_LENGTH) fail('ValidationFailed', `Password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
      if (password.length > MAX_PASSWORD) fail('ValidationFailed', `Password must be at most ${MAX_PASSWORD} characters long.`);
    }
    const email = str(body, 'Email', { max: 256 });
    if (email !== null && email.trim() !== '' && !EMAIL.test(email.trim())) fail('ValidationFailed', `Email '${email}' is not an email address.`);
    const sid = str(body, 'SID', { max: 256 });
    const created = await store.createIdentity({
      accountName,
      identityType,
      sid: sid === null || sid.trim() === '' ? null : sid.trim(),
      email: email === null || email.trim() === '' ? null : email.trim(),
      passwordHash: password === null ? null : await hashPassword(password),
      createdAt: s.now(),
    });
    return new Views(store).identityV1(created);
  });

  app.get('/Security/Identities', async (req) => {
    requirePermission(req, P.securityRead);
    // The contract gives this list no QueryString; ignoring one would return unfiltered results.
    if (req.q.querystring?.trim()) fail('ValidationFailed', 'GET /Security/Identities takes no QueryString (Keyfactor defines none); page with PageReturned and ReturnLimit.');
    const q = listQuery(req, IDENTITY_FIELDS, 'AccountName');
    const identities = await store.listIdentities({ limit: q.limit, offset: q.offset, sortColumn: q.sortColumn, ascending: q.ascending });
    const views = new Views(store);
    const out: Json[] = [];
    for (const i of identities) out.push(await views.identityV1(i));
    return out;
  });

  app.get('/Security/Identities/Lookup', async (req) => {
    requirePermission(req, P.securityRead);
    const name = req.q.accountname;
    if (name === undefined || name.trim() === '') fail('ValidationFailed', 'accountName is required.');
    return { Valid: (await store.findIdentityByName(name!.trim())) !== null };
  });

  app.get('/Security/Identities/:id', async (req) => {
    requirePermission(req, P.securityRead);
    const identity = await identityOr404(store, param(req, 'Identity id'));
    return identityPermissions(identity, await store.rolesOfIdentity(identity));
  });

  app.delete('/Security/Identities/:id', async (req, reply) => {
    const p = requirePermission(req, P.securityModify);
    const identity = await identityOr404(store, param(req, 'Identity id'));
    if (identity.id === p.identity.id) fail('ValidationFailed', 'You cannot delete the identity you are signed in with.');
    await assertSecurityChangeAllowed(store, p, { kind: 'deleteIdentity', identity });
    if (!(await store.deleteIdentity(identity.id))) fail('NotFound', `Security identity ${identity.id} does not exist.`);
    return reply.code(204).send();
  });

  // Lifts a log-in lock-out (docs/security/authentication.md); an extension, not in Keyfactor's API.
  app.post('/Security/Identities/:id/Unlock', async (req, reply) => {
    requirePermission(req, P.securityModify);
    const identity = await identityOr404(store, param(req, 'Identity id'));
    await store.updateLoginThrottle(identityThrottleKey(identity.id), () => ({ state: null, result: undefined }));
    return reply.code(204).send();
  });

  // Roles -------------------------------------------------------------------------------------

  app.get('/Security/Roles', async (req) => {
    requirePermission(req, P.securityRead);
    const roles = await store.listRoles(listQuery(req, ROLE_FIELDS, 'Name'));
    const views = new Views(store);
    const out: Json[] = [];
    for (const r of roles) out.push(req.apiVersion === 2 ? await views.roleQueryV2(r) : await views.roleV1(r));
    return out;
  });

  app.get('/Security/Roles/:id', async (req) => {
    requirePermission(req, P.securityRead);
    const role = await roleOr404(store, param(req, 'Role id'));
    const views = new Views(store);
    return req.apiVersion === 2 ? views.roleV2(role) : views.roleV1(role);
  });

  app.post('/Security/Roles', async (req) => {
    const p = requirePermission(req, P.securityModify);
    const body = asObject(req.body);
    const views = new Views(store);
    const create = async (role: NewRole): Promise<Role> => {
      await assertSecurityChangeAllowed(store, p, { kind: 'role', before: null, after: role });
      return store.createRole(role);
    };
    if (req.apiVersion === 2) {
      const role = await create({
        ...readRoleCommonV2(body, true),
        enabled: true,
        private: false,
        immutable: false,
        permissions: readPermissions(body) ?? [],
        identityIds: [],
        claims: readClaims(body) ?? [],
      });
      return views.roleV2(role);
    }
    const members = await readIdentitiesV1(store, body);
    const role = await create({
      ...readRoleCommonV1(body),
      enabled: bool(body, 'Enabled') ?? true,
      private: bool(body, 'Private') ?? false,
      immutable: false,
      permissions: readPermissions(body) ?? [],
      identityIds: (members ?? []).map((i) => i.id),
      claims: [],
    });
    return views.roleV1(role);
  });

  app.put('/Security/Roles', async (req) => {
    const p = requirePermission(req, P.securityModify);
    const body = asObject(req.body);
    const id = int(body, 'Id', { required: true, min: 1 }) as number;
    const current = await roleOr404(store, id);
    assertMutable(current);
    const views = new Views(store);
    const keep = (r: Role): NewRole => ({ ...r, claims: r.claims.map(stripId) });
    const update = async (next: NewRole): Promise<Role> => {
      await assertSecurityChangeAllowed(store, p, { kind: 'role', before: current, after: next });
      return (await store.updateRole(id, next)) ?? notFound('Security role', id);
    };
    if (req.apiVersion === 2) {
      const claims = readClaims(body);
      const next: NewRole = {
        ...keep(current),
        ...readRoleCommonV2(body, true),
        permissions: readPermissions(body) ?? current.permissions,
        // The claims are the complete membership: direct members not listed again are dropped.
        ...(claims === null ? {} : { claims, identityIds: [] }),
      };
      return views.roleV2(await update(next));
    }
    const members = await readIdentitiesV1(store, body);
    const next: NewRole = {
      ...keep(current),
      ...readRoleCommonV1(body),
      enabled: bool(body, 'Enabled') ?? current.enabled,
      private: bool(body, 'Private') ?? current.private,
      permissions: readPermissions(body) ?? current.permissions,
      ...(members === null ? {} : await membershipV1(store, current, members.map((i) => i.id))),
    };
    return views.roleV1(await update(next));
  });

  app.delete('/Security/Roles/:id', async (req, reply) => {
    const p = requirePermission(req, P.securityModify);
    const role = await roleOr404(store, param(req, 'Role id'));
    assertMutable(role);
    await assertSecurityChangeAllowed(store, p, { kind: 'role', before: role, after: null });
    await assertRoleUnused(s, role.id, role.name);
    if (!(await store.deleteRole(role.id))) notFound('Security role', role.id);
    return reply.code(204).send();
  });

  app.get('/Security/Roles/:id/Identities', async (req) => {
    requirePermission(req, P.securityRead);
    const role = await roleOr404(store, param(req, 'Role id'));
    return (await new Views(store).membersOf(role)).map((i) => ({ Id: i.id, Name: i.accountName }));
  });

  app.put('/Security/Roles/:id/Identities', async (req) => {
    const p = requirePermission(req, P.securityModify);
    const role = await roleOr404(store, param(req, 'Role id'));
    assertMutable(role);
    const body = asObject(req.body);
    const views = new Views(store);
    const ids = readIdList(body, 'Ids');
    const add = readIdList(body, 'Add');
    const remove = readIdList(body, 'Remove');
    if (ids === null && add === null && remove === null)
      fail('ValidationFailed', 'Send Ids (the complete list of identity ids), or Add and/or Remove (identity ids to add or remove).');
    if (ids !== null && (add !== null || remove !== null)) fail('ValidationFailed', 'Send either Ids, or Add/Remove, not both.');
    const all = [...(ids ?? []), ...(add ?? []), ...(remove ?? [])];
    const unknown: number[] = [];
    for (const id of new Set(all)) if (!(await views.identity(id))) unknown.push(id);
    if (unknown.length) fail('ValidationFailed', `Unknown identity id(s): ${unknown.join(', ')}.`);
    let wanted: number[];
    if (ids !== null) wanted = ids;
    else {
      const current = (await views.membersOf(role)).map((i) => i.id);
      const drop = new Set(remove ?? []);
      wanted = [...new Set([...current, ...(add ?? [])])].filter((id) => !drop.has(id));
    }
    const next: NewRole = { ...role, ...(await membershipV1(store, role, wanted)) };
    await assertSecurityChangeAllowed(store, p, { kind: 'role', before: role, after: next });
    const updated = (await store.updateRole(role.id, next)) ?? notFound('Security role', role.id);
    return (await new Views(store).membersOf(updated)).map((i) => ({ Id: i.id, Name: i.accountName }));
  });

  // Permission sets and the permission catalogue ----------------------------------------------

  const globalSet = () => ({ Id: GLOBAL_PERMISSION_SET_ID, Name: GLOBAL_PERMISSION_SET_NAME, Permissions: [...PERMISSION_CATALOGUE] });

  app.get('/PermissionSets', async (req) => {
    requirePermission(req, P.securityRead);
    const q = listQuery(req, PERMISSION_SET_FIELDS, 'Name');
    const sets = matchesGlobalSet(q.filter) ? [globalSet()] : [];
    return sets.slice(q.offset, q.offset + q.limit);
  });

  app.get('/PermissionSets/My', async (req) => {
    const p = principalOf(req);
    const acs = req.q.accesscontrolstring;
    const needed = acs === undefined || acs.trim() === '' ? null : toCanonical(acs);
    const roles = (await store.rolesOfIdentity(p.identity)).filter(
      (r) => r.enabled && isGlobalPermissionSet(r.permissionSetId) && (needed === null || grants(r.permissions, needed)),
    );
    if (roles.length === 0) return [];
    return [{ ...globalSet(), SecurityRoles: roles.map((r) => ({ Id: r.id, Name: r.name })) }];
  });

  app.get('/PermissionSets/:id', async (req) => {
    requirePermission(req, P.securityRead);
    const id = (req.params as { id?: string }).id;
    if (!id || !GUID.test(id)) fail('InvalidId', `Permission set id '${id ?? ''}' is not a GUID.`);
    if (!isGlobalPermissionSet(id!)) fail('NotFound', `Permission set ${id} does not exist; Countersign has one, ${GLOBAL_PERMISSION_SET_ID} (${GLOBAL_PERMISSION_SET_NAME}).`);
    return globalSet();
  });

  const fixedSets = async (req: FastifyRequest): Promise<never> => {
    requirePermission(req, P.securityModify);
    return fail('MethodNotAllowed', `Countersign has one permission set, ${GLOBAL_PERMISSION_SET_ID} (${GLOBAL_PERMISSION_SET_NAME}), holding every permission; it cannot be created, changed or deleted.`);
  };
  app.post('/PermissionSets', fixedSets);
  app.put('/PermissionSets', fixedSets);
  app.delete('/PermissionSets/:id', fixedSets);

  app.get('/Permissions', async (req) => {
    requirePermission(req, P.securityRead);
    return [...PERMISSION_CATALOGUE];
  });
};

// Reading requests ------------------------------------------------------------------------------

const PERMISSION_SET_FIELDS: FieldSpec[] = [
  { name: 'Name', type: 'string', column: 'Name' },
  { name: 'Id', type: 'uuid', column: 'Id' },
];

/** There is one record, so the QueryString is evaluated in memory. */
const matchesGlobalSet = (filter: BoundAst | null): boolean =>
  evaluateQuery(filter, { Name: GLOBAL_PERMISSION_SET_NAME, Id: GLOBAL_PERMISSION_SET_ID });

function param(req: FastifyRequest, what: string): number {
  return intParam((req.params as { id?: string }).id, what);
}

function notFound(what: string, id: number | string): never {
  return fail('NotFound', `${what} ${id} does not exist.`);
}

async function identityOr404(store: SecurityStore, id: number): Promise<Identity> {
  return (await store.getIdentity(id)) ?? notFound('Security identity', id);
}

async function roleOr404(store: SecurityStore, id: number): Promise<Role> {
  return (await store.getRole(id)) ?? notFound('Security role', id);
}

function assertMutable(role: Role): void {
  if (role.immutable) fail('RoleInvalid', `Security role '${role.name}' is immutable: it cannot be changed or deleted.`);
}

function readAccountName(raw: string): string {
  const name = raw.trim();
  if (name.length > MAX_ACCOUNT_NAME) fail('ValidationFailed', `AccountName must be at most ${MAX_ACCOUNT_NAME} characters.`);
  if (!ACCOUNT_NAME.test(name) || name.split('\\').some((part) => part.trim() === ''))
    fail(
      'ValidationFailed',
      `AccountName '${raw}' is not valid: write DOMAIN\\user or user (one backslash at most, no colon, no control characters).`,
    );
  return name;
}

function readRoleName(body: JsonObject, max: number): string {
  const name = (str(body, 'Name', { required: true, nonEmpty: true, max }) as string).trim();
  if (/[\u0000-\u001f\u007f]/.test(name)) fail('ValidationFailed', 'Name must not contain control characters.');
  return name;
}

function readEmail(body: JsonObject): string | null {
  const email = str(body, 'EmailAddress', { max: 256 });
  if (email === null || email.trim() === '') return null;
  if (!EMAIL.test(email.trim())) fail('ValidationFailed', `EmailAddress '${email}' is not an email address.`);
  return email.trim();
}

function readPermissionSetId(body: JsonObject, required: boolean): string {
  const raw = str(body, 'PermissionSetId');
  if (raw === null || raw.trim() === '') {
    if (required)
      fail('ValidationFailed', `PermissionSetId is required; use the global permission set ${GLOBAL_PERMISSION_SET_ID} (see GET /PermissionSets).`);
    return GLOBAL_PERMISSION_SET_ID;
  }
  if (!GUID.test(raw.trim())) fail('ValidationFailed', `PermissionSetId '${raw}' is not a GUID.`);
  if (!isGlobalPermissionSet(raw.trim()))
    fail('RoleInvalid', `PermissionSetId '${raw}' is unknown: Countersign has one permission set, ${GLOBAL_PERMISSION_SET_ID} (${GLOBAL_PERMISSION_SET_NAME}).`);
  return GLOBAL_PERMISSION_SET_ID;
}

function readRoleCommonV1(body: JsonObject): Pick<NewRole, 'name' | 'description' | 'email' | 'permissionSetId'> {
  return {
    name: readRoleName(body, 128),
    description: (str(body, 'Description', { required: true, nonEmpty: true, max: 512 }) as string).trim(),
    email: readEmail(body),
    permissionSetId: readPermissionSetId(body, false),
  };
}

function readRoleCommonV2(body: JsonObject, requireSet: boolean): Pick<NewRole, 'name' | 'description' | 'email' | 'permissionSetId'> {
  return {
    name: readRoleName(body, 128),
    description: (str(body, 'Description', { required: true, max: 512 }) as string).trim(),
    email: readEmail(body),
    permissionSetId: readPermissionSetId(body, requireSet),
  };
}

/** Either spelling is accepted on both versions; stored canonical, without duplicates. Null when absent. */
function readPermissions(body: JsonObject): string[] | null {
  const v = field(body, 'Permissions');
  if (v === undefined || v === null) return null;
  const list = asArray(v, 'Permissions');
  const out = new Set<string>();
  list.forEach((p, i) => {
    if (typeof p !== 'string' || p.trim() === '') fail('ValidationFailed', `Permissions[${i}] must be a non-empty string.`);
    out.add(toCanonical(p as string));
  });
  return [...out];
}

/** Version-2 claims; null when absent. */
function readClaims(body: JsonObject): NewRole['claims'] | null {
  const v = field(body, 'Claims');
  if (v === undefined || v === null) return null;
  return asArray(v, 'Claims').map((item, i) => {
    const c = asObject(item, `Claims[${i}]`);
    const rawType = field(c, 'ClaimType');
    let claimType: number;
    if (typeof rawType === 'number' && Number.isInteger(rawType) && rawType >= 0 && rawType < CLAIM_TYPES.length) claimType = rawType;
    else if (typeof rawType === 'string' && /^\d$/.test(rawType.trim()) && Number(rawType) < CLAIM_TYPES.length) claimType = Number(rawType);
    else if (typeof rawType === 'string' && CLAIM_TYPES.some((t) => t.toLowerCase() === rawType.replace(/\s+/g, '').toLowerCase()))
      claimType = CLAIM_TYPES.findIndex((t) => t.toLowerCase() === rawType.replace(/\s+/g, '').toLowerCase());
    else
      return fail(
        'ValidationFailed',
        `Claims[${i}].ClaimType must be 0-6 (${CLAIM_TYPES.map((t, n) => `${n} ${t}`).join(', ')}), not ${JSON.stringify(rawType ?? null)}.`,
      );
    const claimValue = (str(c, 'ClaimValue', { required: true, nonEmpty: true, max: 512 }) as string).trim();
    if (claimType === USER_CLAIM && !ACCOUNT_NAME.test(claimValue))
      fail('ValidationFailed', `Claims[${i}].ClaimValue '${claimValue}' is not an account name (DOMAIN\\user or user).`);
    const scheme = str(c, 'ProviderAuthenticationScheme', { max: 512 });
    return {
      claimType,
      claimValue,
      providerScheme: scheme === null || scheme.trim() === '' ? LOCAL_PROVIDER_SCHEME : scheme.trim(),
      description: str(c, 'Description', { max: 512 }) ?? '',
    };
  });
}

/** Version-1 Identities [{AccountName, SID}] resolved to existing identities; null when absent. */
async function readIdentitiesV1(store: SecurityStore, body: JsonObject): Promise<Identity[] | null> {
  const v = field(body, 'Identities');
  if (v === undefined || v === null) return null;
  const out = new Map<number, Identity>();
  const unknown: string[] = [];
  for (const [i, item] of asArray(v, 'Identities').entries()) {
    const o = asObject(item, `Identities[${i}]`);
    // The v10.5 documentation example writes Name; the specification says AccountName.
    const name = str(o, 'AccountName') ?? str(o, 'Name');
    if (name === null || name.trim() === '') fail('ValidationFailed', `Identities[${i}].AccountName is required.`);
    const identity = await store.findIdentityByName(name!.trim());
    if (identity) out.set(identity.id, identity);
    else unknown.push(name!.trim());
  }
  if (unknown.length)
    fail(
      'RoleInvalid',
      `Unknown identit${unknown.length === 1 ? 'y' : 'ies'}: ${unknown.map((n) => `'${n}'`).join(', ')}. Create ${unknown.length === 1 ? 'it' : 'them'} first with POST /Security/Identities.`,
    );
  return [...out.values()];
}

function readIdList(body: JsonObject, name: string): number[] | null {
  const v = field(body, name);
  if (v === undefined || v === null) return null;
  return asArray(v, name).map((x, i) => {
    const n = typeof x === 'string' && /^\s*\d{1,9}\s*$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) fail('ValidationFailed', `${name}[${i}] must be a positive whole number.`);
    return n as number;
  });
}

/**
 * The version-1 membership change: direct members become exactly `identityIds`, and User claims
 * that name some other existing identity are dropped (the caller saw those identities as members
 * and left them out). Claims of other types, and User claims naming no identity, stay.
 */
async function membershipV1(store: SecurityStore, role: Role, identityIds: number[]): Promise<Pick<NewRole, 'identityIds' | 'claims'>> {
  const wanted = new Set(identityIds);
  const claims: NewRole['claims'] = [];
  for (const c of role.claims) {
    if (c.claimType === USER_CLAIM) {
      const who = await store.findIdentityByName(c.claimValue);
      if (who && !wanted.has(who.id)) continue;
      if (who) wanted.delete(who.id); // already a member through the claim
    }
    claims.push(stripId(c));
  }
  return { identityIds: [...wanted], claims };
}

const stripId = ({ id: _id, ...c }: RoleClaim): Omit<RoleClaim, 'id'> => c;

// Writing responses -----------------------------------------------------------------------------

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
function identityPermissions(identity: Identity, roles: Role[]): JsonObject {
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

/** Builds response bodies, memoizing identity look-ups for one request. */
class Views {
  private readonly byId = new Map<number, Identity | null>();
  private readonly byName = new Map<string, Identity | null>();
  constructor(private readonly store: SecurityStore) {}

  async identity(id: number): Promise<Identity | null> {
    if (!this.byId.has(id)) this.byId.set(id, await this.store.getIdentity(id));
    return this.byId.get(id)!;
  }

  async identityNamed(name: string): Promise<Identity | null> {
    const key = name.toLowerCase();
    if (!this.byName.has(key)) this.byName.set(key, await this.store.findIdentityByName(name));
    return this.byName.get(key)!;
  }

  /** Direct members, then identities bound by User claims, without duplicates. */
  async membersOf(role: Role): Promise<Identity[]> {
    const out = new Map<number, Identity>();
    for (const id of role.identityIds) {
      const i = await this.identity(id);
      if (i) out.set(i.id, i);
    }
    for (const c of role.claims) {
      if (c.claimType !== USER_CLAIM) continue;
      const i = await this.identityNamed(c.claimValue);
      if (i) out.set(i.id, i);
    }
    return [...out.values()];
  }

  /** Stored claims, then direct members not already named by a User claim (Id = -identity id). */
  async claimsOf(role: Role): Promise<JsonObject[]> {
    const named = new Set(role.claims.filter((c) => c.claimType === USER_CLAIM).map((c) => c.claimValue.toLowerCase()));
    const out = role.claims.map(claimV2);
    for (const id of role.identityIds) {
      const i = await this.identity(id);
      if (!i || named.has(i.accountName.toLowerCase())) continue;
      out.push(
        claimV2({ id: -i.id, claimType: USER_CLAIM, claimValue: i.accountName, providerScheme: LOCAL_PROVIDER_SCHEME, description: 'Direct member' }),
      );
    }
    return out;
  }

  /** v25 v1 SecurityIdentityResponse; its roles carry Identities: null (no back-reference loop). */
  async identityV1(identity: Identity): Promise<JsonObject> {
    const roles = await this.store.rolesOfIdentity(identity);
    return {
      Id: identity.id,
      AccountName: identity.accountName,
      IdentityType: identity.identityType,
      Roles: roles.map((r) => this.roleShallowV1(r, null)),
      Valid: true,
      SID: identity.sid,
    };
  }

  private roleShallowV1(role: Role, identities: Json[] | null): JsonObject {
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
  async roleV1(role: Role): Promise<JsonObject> {
    const members = await this.membersOf(role);
    return this.roleShallowV1(
      role,
      members.map((i) => ({ Id: i.id, AccountName: i.accountName, IdentityType: i.identityType, Roles: null, Valid: true, SID: i.sid })),
    );
  }

  /** v25 v2 SecurityRoleResponse. */
  async roleV2(role: Role): Promise<JsonObject> {
    return {
      Id: role.id,
      Name: role.name,
      Description: role.description,
      EmailAddress: role.email,
      Immutable: role.immutable,
      PermissionSetId: role.permissionSetId,
      Permissions: [...role.permissions],
      Claims: await this.claimsOf(role),
    };
  }

  /** v25 v2 SecurityRoleQueryResponse (list rows). */
  async roleQueryV2(role: Role): Promise<JsonObject> {
    return {
      Id: role.id,
      Name: role.name,
      EmailAddress: role.email,
      Immutable: role.immutable,
      PermissionSetId: role.permissionSetId,
      ClaimsCount: (await this.claimsOf(role)).length,
    };
  }
}

/**
 * A role that a step's signal names, or that a suspended instance waits on, cannot be deleted:
 * those approvals would become impossible. The caller edits the definitions first.
 */
async function assertRoleUnused(services: Services, roleId: number, roleName: string): Promise<void> {
  const { store } = services;
  const waiting = await store.queryInstances({ filter: null, limit: 1, offset: 0, sortColumn: 'reference_id', ascending: true, assignedTo: { identityId: -1, roleIds: [roleId] } });
  if (waiting.length) fail('Conflict', `Role '${roleName}' (${roleId}) is one a suspended instance waits on (for example ${waiting[0].id}); finish or stop those instances first.`);
  const users: string[] = [];
  for (const def of await store.listDefinitions({ filter: null, limit: 100_000, offset: 0, sortColumn: 'display_name', ascending: true })) {
    const versions = new Set([def.draftVersion, def.publishedVersion].filter((v): v is number => v !== null));
    for (const v of versions) {
      const version = await store.getVersion(def.id, v);
      if (version?.steps.some((st) => st.signals.some((g) => g.roleIds.includes(roleId)))) {
        users.push(`'${def.displayName}' version ${v}`);
        break;
      }
    }
  }
  if (users.length) fail('Conflict', `Role '${roleName}' (${roleId}) is named by the signals of ${users.join(', ')}; remove it from those steps first.`);
}
