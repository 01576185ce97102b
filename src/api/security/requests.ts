import { fail } from '../../domain/errors.ts';
import { checkEmail, isAccountName } from '../../domain/security/account-policy.ts';
import { LOCAL_PROVIDER_SCHEME } from '../../domain/security/roles.ts';
import type { JsonObject } from '../../domain/types.ts';
import { USER_CLAIM } from '../../domain/membership.ts';
import { GLOBAL_PERMISSION_SET_ID, GLOBAL_PERMISSION_SET_NAME, isGlobalPermissionSet } from '../../security/permission-set.ts';
import { toCanonical } from '../../security/permissions.ts';
import type { NewRole } from '../../store/store.ts';
import { GUID, asArray, asObject, field, str } from '../wire.ts';
import { CLAIM_TYPES } from './views.ts';

/* Reading security request bodies (v1 and v2 spellings) into the service's terms. */

function readRoleName(body: JsonObject, max: number): string {
  const name = (str(body, 'Name', { required: true, nonEmpty: true, max }) as string).trim();
  if (/[\u0000-\u001f\u007f]/.test(name)) fail('ValidationFailed', 'Name must not contain control characters.');
  return name;
}

const readEmail = (body: JsonObject): string | null => checkEmail(str(body, 'EmailAddress', { max: 256 }), 'EmailAddress');

function readPermissionSetId(body: JsonObject, required: boolean): string {
  const raw = str(body, 'PermissionSetId');
  if (raw === null || raw.trim() === '') {
    if (required) fail('ValidationFailed', `PermissionSetId is required; use the global permission set ${GLOBAL_PERMISSION_SET_ID} (see GET /PermissionSets).`);
    return GLOBAL_PERMISSION_SET_ID;
  }
  if (!GUID.test(raw.trim())) fail('ValidationFailed', `PermissionSetId '${raw}' is not a GUID.`);
  if (!isGlobalPermissionSet(raw.trim()))
    fail('RoleInvalid', `PermissionSetId '${raw}' is unknown: Countersign has one permission set, ${GLOBAL_PERMISSION_SET_ID} (${GLOBAL_PERMISSION_SET_NAME}).`);
  return GLOBAL_PERMISSION_SET_ID;
}

type RoleCommon = Pick<NewRole, 'name' | 'description' | 'email' | 'permissionSetId'>;

export function readRoleCommonV1(body: JsonObject): RoleCommon {
  return {
    name: readRoleName(body, 128),
    description: (str(body, 'Description', { required: true, nonEmpty: true, max: 512 }) as string).trim(),
    email: readEmail(body),
    permissionSetId: readPermissionSetId(body, false),
  };
}

export function readRoleCommonV2(body: JsonObject, requireSet: boolean): RoleCommon {
  return {
    name: readRoleName(body, 128),
    description: (str(body, 'Description', { required: true, max: 512 }) as string).trim(),
    email: readEmail(body),
    permissionSetId: readPermissionSetId(body, requireSet),
  };
}

/** Either spelling is accepted on both versions; stored canonical, without duplicates. Null when absent. */
export function readPermissions(body: JsonObject): string[] | null {
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
export function readClaims(body: JsonObject): NewRole['claims'] | null {
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
    else return fail('ValidationFailed', `Claims[${i}].ClaimType must be 0-6 (${CLAIM_TYPES.map((t, n) => `${n} ${t}`).join(', ')}), not ${JSON.stringify(rawType ?? null)}.`);
    const claimValue = (str(c, 'ClaimValue', { required: true, nonEmpty: true, max: 512 }) as string).trim();
    if (claimType === USER_CLAIM && !isAccountName(claimValue)) fail('ValidationFailed', `Claims[${i}].ClaimValue '${claimValue}' is not an account name (DOMAIN\\user or user).`);
    const scheme = str(c, 'ProviderAuthenticationScheme', { max: 512 });
    return {
      claimType,
      claimValue,
      providerScheme: scheme === null || scheme.trim() === '' ? LOCAL_PROVIDER_SCHEME : scheme.trim(),
      description: str(c, 'Description', { max: 512 }) ?? '',
    };
  });
}

/** Version-1 Identities [{AccountName, SID}] as account names; null when absent. */
export function readIdentityNamesV1(body: JsonObject): string[] | null {
  const v = field(body, 'Identities');
  if (v === undefined || v === null) return null;
  return asArray(v, 'Identities').map((item, i) => {
    const o = asObject(item, `Identities[${i}]`);
    // The v10.5 documentation example writes Name; the specification says AccountName.
    const name = str(o, 'AccountName') ?? str(o, 'Name');
    if (name === null || name.trim() === '') fail('ValidationFailed', `Identities[${i}].AccountName is required.`);
    return name!.trim();
  });
}

export function readIdList(body: JsonObject, name: string): number[] | null {
  const v = field(body, name);
  if (v === undefined || v === null) return null;
  return asArray(v, name).map((x, i) => {
    const n = typeof x === 'string' && /^\s*\d{1,9}\s*$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) fail('ValidationFailed', `${name}[${i}] must be a positive whole number.`);
    return n as number;
  });
}
