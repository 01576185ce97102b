import { describe, expect, it } from 'vitest';
import { isMember, membersOf, userClaimNames } from '../../../src/domain/membership.ts';
import { checkAccountName, checkEmail, checkPassword } from '../../../src/domain/security/account-policy.ts';
import { changedMemberIds, claimsView, membershipV1, securityChangeProblem, versionUsesRole, type RoleData } from '../../../src/domain/security/roles.ts';
import { CountersignError } from '../../../src/domain/errors.ts';

const alice = { id: 1, accountName: 'CORP\\Alice' };
const bob = { id: 2, accountName: 'CORP\\bob' };
const claim = (claimType: number, claimValue: string) => ({ claimType, claimValue, providerScheme: 'Countersign', description: '' });
const role = (over: Partial<RoleData> = {}): RoleData => ({ name: 'R', enabled: true, permissions: [], identityIds: [], claims: [], ...over });
const CODE = { ValidationFailed: new CountersignError('ValidationFailed', '').code };
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof CountersignError ? e.code : 'other';
  }
  return undefined;
};

describe('membership', () => {
  it('is direct members plus User claims, case-insensitive; other claim types bind nobody', () => {
    const r = role({ identityIds: [2], claims: [claim(0, 'corp\\ALICE'), claim(1, 'CORP\\bob')] });
    expect(membersOf(r, [alice, bob]).map((i) => i.id)).toEqual([2, 1]);
    expect(userClaimNames(r)).toEqual(['corp\\ALICE']);
    expect(isMember(role({ claims: [claim(1, 'CORP\\Alice')] }), alice)).toBe(false);
    expect(membersOf(role({ identityIds: [1, 1], claims: [claim(0, 'CORP\\alice')] }), [alice])).toHaveLength(1);
  });
});

describe('account and password policy', () => {
  it('accepts DOMAIN\\user and user, refuses colons, control characters and empty parts', () => {
    expect(checkAccountName('  CORP\\x ')).toBe('CORP\\x');
    for (const bad of ['a:b', 'a\\b\\c', '\\x', 'x\\', 'a\u0001', 'x'.repeat(257)]) expect(codeOf(() => checkAccountName(bad))).toBe(CODE.ValidationFailed);
  });
  it('passwords: 8 to 1024 characters, never on groups', () => {
    expect(codeOf(() => checkPassword('1234567', 'User'))).toBe(CODE.ValidationFailed);
    expect(codeOf(() => checkPassword('x'.repeat(1025), 'User'))).toBe(CODE.ValidationFailed);
    expect(codeOf(() => checkPassword('long enough', 'Group'))).toBe(CODE.ValidationFailed);
    expect(codeOf(() => checkPassword('long enough', 'User'))).toBeUndefined();
  });
  it('email: empty is null, otherwise one @ between non-blank parts', () => {
    expect(checkEmail('  ', 'Email')).toBeNull();
    expect(checkEmail(' a@b ', 'Email')).toBe('a@b');
    expect(codeOf(() => checkEmail('a b@c', 'Email'))).toBe(CODE.ValidationFailed);
  });
});

describe('version-1 membership and the version-2 claims view', () => {
  it('drops User claims naming left-out identities, keeps the rest, and does not duplicate claim members', () => {
    const r = role({ identityIds: [2], claims: [claim(0, 'corp\\alice'), claim(0, 'CORP\\nobody'), claim(1, 'G')] });
    expect(membershipV1(r, [2], [alice, bob])).toEqual({ identityIds: [2], claims: [claim(0, 'CORP\\nobody'), claim(1, 'G')] });
    expect(membershipV1(r, [1], [alice, bob])).toEqual({ identityIds: [], claims: r.claims });
  });
  it('Ids replace; Add/Remove apply to the current members', () => {
    expect(changedMemberIds([1, 2], { ids: [3], add: null, remove: null })).toEqual([3]);
    expect(changedMemberIds([1, 2], { ids: null, add: [3, 1], remove: [2] })).toEqual([1, 3]);
  });
  it('shows direct members not named by a User claim as claims with a negative id', () => {
    const claims = claimsView({ identityIds: [1, 2], claims: [{ id: 7, ...claim(0, 'corp\\bob') }] }, [alice, bob]);
    expect(claims.map((c) => [c.id, c.claimValue])).toEqual([
      [7, 'corp\\bob'],
      [-1, 'CORP\\Alice'],
    ]);
  });
});

describe('role in use and the privilege rules on a snapshot', () => {
  it('a version uses a role when a signal names it', () => {
    const version = { steps: [{ signals: [{ roleIds: [3, 4] }] }] } as never;
    expect(versionUsesRole(version, 4)).toBe(true);
    expect(versionUsesRole(version, 5)).toBe(false);
  });
  const snapshot = { roles: [{ id: 1, ...role({ name: 'Admins', permissions: ['/'], identityIds: [1], claims: [claim(0, 'CORP\\BOB')] }) }], identities: [alice, bob] };
  const all = () => true;
  const administers = (p: readonly string[]) => p.includes('/');
  it('refuses removing the last administrator, whichever way, and allows removing one of two', () => {
    expect(securityChangeProblem(snapshot, all, administers, { kind: 'deleteIdentity', identityId: 1 })).toBeNull();
    const onlyAlice = { ...snapshot, roles: [{ ...snapshot.roles[0]!, claims: [] }] };
    expect(securityChangeProblem(onlyAlice, all, administers, { kind: 'deleteIdentity', identityId: 1 })?.code).toBe('Conflict');
    expect(securityChangeProblem(onlyAlice, all, administers, { kind: 'role', roleId: 1, after: null })?.code).toBe('Conflict');
    expect(securityChangeProblem(onlyAlice, all, administers, { kind: 'role', roleId: 1, after: { ...onlyAlice.roles[0]!, enabled: false } })?.code).toBe('Conflict');
  });
  it('refuses granting what the caller lacks (Forbidden)', () => {
    const p = securityChangeProblem(snapshot, (perm) => perm !== '/', administers, { kind: 'role', roleId: null, after: role({ permissions: ['/'] }) });
    expect(p?.code).toBe('Forbidden');
  });
});
