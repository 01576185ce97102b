import { describe, expect, it } from 'vitest';
import { isMember, memberReferences, membersOf, USER_CLAIM_TYPE } from '../../src/domain/membership.ts';

const alice = { id: 1, accountName: 'CORP\\Alice' };
const bob = { id: 2, accountName: 'CORP\\bob' };
const carol = { id: 3, accountName: 'CORP\\carol' };
const role = {
  identityIds: [2, 2],
  claims: [
    { claimType: USER_CLAIM_TYPE, claimValue: 'corp\\ALICE' },
    { claimType: USER_CLAIM_TYPE, claimValue: 'CORP\\Bob' },
    // Only User claims (type 0) name people; another type naming carol does not make her a member.
    { claimType: 1, claimValue: 'CORP\\carol' },
  ],
};

describe('who is in a role', () => {
  it('is the direct members and the identities User claims name, case-insensitively, each once, direct members first', () => {
    expect(membersOf(role, [alice, bob, carol])).toEqual([bob, alice]);
    expect(membersOf(role, new Map([['corp\\alice', alice]]).values())).toEqual([alice]);
    expect(membersOf({ identityIds: [], claims: [] }, [alice, bob, carol])).toEqual([]);
  });
  it('answers for one identity the same way', () => {
    expect([alice, bob, carol].map((i) => isMember(role, i))).toEqual([true, true, false]);
  });
  it('says what to load: member ids and the names User claims give, once each', () => {
    expect(memberReferences(role)).toEqual({ identityIds: [2], accountNames: ['corp\\alice', 'corp\\bob'] });
  });
});
