import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signAction, verifyAction } from '../../src/security/action-links.ts';

const claim = { instanceId: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', step: 'RequireApproval1', identityId: 7, action: 'Approve', expires: 2_000_000_000_000 };

describe('one-click action links', () => {
  it('round-trips a claim', () => {
    expect(verifyAction(signAction(claim, 's3cret'), 's3cret', 1_000)).toEqual({ ok: true, claim });
  });
  it('refuses another secret, an expired link and any tampering', () => {
    const token = signAction(claim, 's3cret');
    expect(verifyAction(token, 'other')).toEqual({ ok: false, reason: 'signature' });
    expect(verifyAction(token, 's3cret', claim.expires + 1)).toEqual({ ok: false, reason: 'expired' });
    const [body, sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ i: claim.instanceId, s: claim.step, u: 8, d: 1, x: claim.expires })).toString('base64url');
    expect(verifyAction(`${forged}.${sig}`, 's3cret').ok).toBe(false);
    expect(verifyAction(`${body}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`, 's3cret').ok).toBe(false);
  });
  it('keeps the meaning of links signed before actions were named (d: 1 approve, 0 deny)', () => {
    const legacy = (d: unknown) => {
      const body = Buffer.from(JSON.stringify({ i: claim.instanceId, s: claim.step, u: 7, d, x: claim.expires })).toString('base64url');
      return `${body}.${createHmac('sha256', 's3cret').update(`countersign-action/${body}`).digest('base64url')}`;
    };
    expect(verifyAction(legacy(1), 's3cret', 1_000)).toEqual({ ok: true, claim: { ...claim, action: 'Approve' } });
    expect(verifyAction(legacy(0), 's3cret', 1_000)).toEqual({ ok: true, claim: { ...claim, action: 'Deny' } });
    expect(verifyAction(legacy(2), 's3cret', 1_000)).toEqual({ ok: false, reason: 'malformed' });
  });
  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => verifyAction(s, 'k').ok === false));
  });
});
