import { describe, expect, it } from 'vitest';
import { isMember, membersOf, USER_CLAIM, userClaimNames } from '../../src/domain/membership.ts';

const alice = { id: 1, accountName: 'CORP\\Alice' };
const bob = { id: 2, accountName: 'CORP\\bob' };
const carol = { id: 3, accountName: 'CORP\\carol' };
const role = {
  identityIds: [2, 2],
  claims: [
    { claimType: USER_CLAIM, claimValue: 'corp\\ALICE' },
    { claimType: USER_CLAIM, claimValue: 'CORP\\Bob' },
    // Only User claims (type 0) name people; another type naming carol does not make her a member.
    { claimType: 1, claimValue: 'CORP\\carol' },
  ],
};

describe('who is in a role', () => {
  it('is the direct members and the identities User claims name, case-insensitively, each once, direct members first', () => {
    expect(membersOf(role, [alice, bob, carol])).toEqual([bob, alice]);
    expect(membersOf(role, [alice])).toEqual([alice]);
    expect(membersOf({ identityIds: [], claims: [] }, [alice, bob, carol])).toEqual([]);
  });
  it('answers for one identity the same way', () => {
    expect([alice, bob, carol].map((i) => isMember(role, i))).toEqual([true, true, false]);
  });
  it('says which account names to load: those User claims give, as written', () => {
    expect(userClaimNames(role)).toEqual(['corp\\ALICE', 'CORP\\Bob']);
  });
});
