import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PASSWORD_POLICY, isWeaker, passwordLength, passwordProblem, policyProblem, resetEscalation } from '../../../src/domain/security/password-policy.ts';
import { parseBreachedList } from '../../../src/security/passwords.ts';

const policyArb = fc
  .record({ minLength: fc.integer({ min: 8, max: 64 }), extra: fc.integer({ min: 0, max: 200 }) })
  .map(({ minLength, extra }) => ({ minLength, maxLength: minLength + extra }));

describe('password policy (pure)', () => {
  it('accepts exactly the passwords whose length (code points) is within bounds, when nothing else is wrong', () => {
    fc.assert(
      fc.property(policyArb, fc.string({ unit: 'grapheme', maxLength: 300 }), (policy, password) => {
        const n = passwordLength(password);
        const problem = passwordProblem(password, policy);
        if (n < policy.minLength) expect(problem?.kind).toBe('tooShort');
        else if (n > policy.maxLength) expect(problem?.kind).toBe('tooLong');
        else expect(problem).toBeNull();
      }),
    );
  });

  it('never repeats the password in its message, and names the field', () => {
    fc.assert(
      fc.property(policyArb, fc.string({ minLength: 4, maxLength: 300 }), fc.boolean(), (policy, password, breached) => {
        const problem = passwordProblem(`${password}§unique`, policy, { breached, accountName: 'someone' }, 'NewPassword');
        if (problem) {
          expect(problem.message).not.toContain(`${password}§unique`);
          expect(problem.message.startsWith('NewPassword')).toBe(true);
        }
      }),
    );
  });

  it('refuses a breached password of acceptable length, and the account name in any case', () => {
    const p = DEFAULT_PASSWORD_POLICY;
    expect(passwordProblem('long enough password', p, { breached: true })?.kind).toBe('breached');
    expect(passwordProblem('long enough password', p, { breached: false })).toBeNull();
    expect(passwordProblem('CORP\\Alice-Admin', p, { accountName: 'corp\\alice-admin' })?.kind).toBe('accountName');
    expect(passwordProblem('Alice-Admin', p, { accountName: 'CORP\\alice-admin' })?.kind).toBe('accountName');
    expect(passwordProblem('alice-admin-2', p, { accountName: 'CORP\\alice-admin' })).toBeNull();
    // Length comes first: a short breached password is "too short", which tells the user more.
    expect(passwordProblem('1234567', p, { breached: true })?.kind).toBe('tooShort');
  });

  it('counts code points of the NFC form, so composed and decomposed spellings agree', () => {
    const policy = { minLength: 8, maxLength: 8 };
    expect(passwordProblem('caf\u00e9caf\u00e9', policy)).toBeNull();
    expect(passwordProblem('cafe\u0301cafe\u0301', policy)).toBeNull();
    expect(passwordProblem('\u{1F510}'.repeat(8), policy)).toBeNull(); // astral characters count once
  });

  it('refuses huge inputs before normalising them', () => {
    expect(passwordProblem('x'.repeat(1_000_000), DEFAULT_PASSWORD_POLICY)?.kind).toBe('tooLong');
  });

  it('checks configured policies', () => {
    expect(policyProblem({ minLength: 8, maxLength: 1024 })).toBeNull();
    expect(policyProblem({ minLength: 7, maxLength: 1024 })).toMatch(/at least 8/);
    expect(policyProblem({ minLength: 20, maxLength: 10 })).toMatch(/not be less/);
    expect(policyProblem({ minLength: 8, maxLength: 5000 })).toMatch(/at most 4096/);
  });

  it('a reset reaches no permission the caller lacks', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom<string>('/a/', '/b/', '/c/', '/d/')), fc.uniqueArray(fc.constantFrom<string>('/a/', '/b/', '/c/', '/d/')), (mine, theirs) => {
        const lacking = resetEscalation((p) => mine.includes(p), theirs);
        expect(lacking).toEqual(theirs.filter((p) => !mine.includes(p)).sort());
      }),
    );
  });

  it('asks for a rehash of older algorithms and weaker parameters, never of stronger ones', () => {
    const arb = fc.record({ memoryKiB: fc.integer({ min: 8, max: 1 << 20 }), timeCost: fc.integer({ min: 1, max: 20 }), parallelism: fc.integer({ min: 1, max: 16 }) });
    fc.assert(
      fc.property(arb, arb, (stored, wanted) => {
        const weaker = isWeaker({ algorithm: 'argon2id', params: stored }, wanted);
        expect(weaker).toBe(stored.memoryKiB < wanted.memoryKiB || stored.timeCost < wanted.timeCost);
        expect(isWeaker({ algorithm: 'scrypt' }, wanted)).toBe(true);
        expect(isWeaker({ algorithm: 'unknown' }, wanted)).toBe(false);
      }),
    );
  });
});

describe('breached list', () => {
  it('reads SHA-1 lines (with or without :count, any case) and plain passwords', () => {
    const sha1OfPassword = '5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8'; // "password"
    const set = parseBreachedList(`${sha1OfPassword.toLowerCase()}:3730471\r\n7C4A8D09CA3762AF61E59520943DC26494F8941B\nletmein-please\n\n`);
    expect(set.has(sha1OfPassword)).toBe(true);
    expect(set.has('7C4A8D09CA3762AF61E59520943DC26494F8941B')).toBe(true); // "123456"
    expect(set.size).toBe(3);
  });
});
