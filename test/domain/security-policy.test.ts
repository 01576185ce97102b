import { describe, expect, it } from 'vitest';
import { administrators, escalationProblem, identityMember, lockOutProblem, type RoleGrant } from '../../src/domain/security-policy.ts';
import { beginAttempt, DEFAULT_LOGIN_THROTTLE, type LoginThrottleState } from '../../src/domain/login-throttle.ts';

const holdsOnly = (held: string[]) => (p: string) => held.some((h) => p.startsWith(h));
const role = (over: Partial<RoleGrant>): RoleGrant => ({ name: 'R', enabled: true, permissions: [], members: [], ...over });
const modifies = (perms: readonly string[]) => perms.some((p) => '/security/modify/'.startsWith(p));

describe('escalationProblem', () => {
  const sec = holdsOnly(['/security/']);
  it('refuses adding a permission the caller lacks, allows one it holds', () => {
    expect(escalationProblem(sec, role({ permissions: ['/security/read/'] }), role({ permissions: ['/security/read/', '/'] }))).toMatch(/cannot grant '\/'/);
    expect(escalationProblem(sec, role({}), role({ permissions: ['/security/read/'] }))).toBeNull();
  });
  it('refuses new members of a role that grants more than the caller, the caller included', () => {
    const admin = role({ permissions: ['/'], members: [identityMember(1)] });
    expect(escalationProblem(sec, admin, { ...admin, members: [identityMember(1), identityMember(2)] })).toMatch(/cannot add members/);
    expect(escalationProblem(sec, admin, { ...admin, members: [] })).toBeNull(); // removing grants nothing
  });
  it('treats creating and enabling as granting everything; deleting and disabling grant nothing', () => {
    expect(escalationProblem(sec, null, role({ permissions: ['/workflows/'] }))).not.toBeNull();
    expect(escalationProblem(sec, role({ enabled: false, permissions: ['/'] }), role({ permissions: ['/'] }))).not.toBeNull();
    expect(escalationProblem(sec, role({ permissions: ['/'] }), null)).toBeNull();
    expect(escalationProblem(sec, role({ permissions: ['/'] }), role({ enabled: false, permissions: ['/'] }))).toBeNull();
  });
});

describe('administrators and lockOutProblem', () => {
  const roles = [
    role({ permissions: ['/'], members: [identityMember(1), 'claim:1:group:x'] }),
    role({ enabled: false, permissions: ['/'], members: [identityMember(2)] }),
    role({ permissions: ['/security/read/'], members: [identityMember(3)] }),
  ];
  it('counts members of enabled roles granting Security:Modify', () => {
    expect([...administrators(roles, modifies)]).toEqual([1]);
  });
  it('refuses only a change from some administrators to none (deleting the last one included)', () => {
    const withoutOne = roles.map((r) => ({ ...r, members: r.members.filter((m) => m !== identityMember(1)) }));
    expect(lockOutProblem(administrators(roles, modifies), administrators(withoutOne, modifies))).toMatch(/no identity able to administer/);
    expect(lockOutProblem(new Set([1, 2]), new Set([2]))).toBeNull();
    expect(lockOutProblem(new Set(), new Set())).toBeNull();
  });
});

describe('beginAttempt', () => {
  it('lets at most maxFailures through, whatever the interleaving, then locks', () => {
    let s: LoginThrottleState | null = null;
    const verdicts = [];
    for (let i = 0; i < 100; i++) {
      const d = beginAttempt(s, 1000, DEFAULT_LOGIN_THROTTLE);
      s = d.state;
      verdicts.push(d.verdict.allowed);
    }
    expect(verdicts.filter(Boolean).length).toBe(5);
    expect(verdicts.slice(0, 5)).toEqual([true, true, true, true, true]);
  });
});
