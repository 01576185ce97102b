import { describe, expect, it } from 'vitest';
import { requireApprovalStep } from '../../src/steps/require-approval/require-approval.ts';

/** What RequireApproval's one-click forms ask, from the step's CommentRequired and ReasonCodes. */
const form = (action: 'Approve' | 'Deny', config: Record<string, unknown>) => requireApprovalStep.oneClickActions![action].form!(config as never);

describe('RequireApproval one-click forms', () => {
  it('asks nothing more than an optional comment by default', () => {
    expect(form('Approve', {})).toEqual({ comment: 'optional', choices: [] });
    expect(form('Deny', {})).toEqual({ comment: 'optional', choices: [] });
  });
  it('requires the comment where CommentRequired says so', () => {
    expect(form('Approve', { CommentRequired: 'OnDeny' }).comment).toBe('optional');
    expect(form('Deny', { CommentRequired: 'OnDeny' }).comment).toBe('required');
    expect(form('Approve', { CommentRequired: 'Always' }).comment).toBe('required');
    expect(form('Deny', { CommentRequired: 'Always' }).comment).toBe('required');
    expect(form('Deny', { CommentRequired: 'Never' }).comment).toBe('optional');
    expect(form('Deny', { CommentRequired: null }).comment).toBe('optional');
  });
  it('asks a denial for one of the ReasonCodes, an approval for none', () => {
    const config = { CommentRequired: 'OnDeny', ReasonCodes: ['Policy', ' Duplicate ', ''] };
    expect(form('Deny', config)).toEqual({
      comment: 'required',
      choices: [{ field: 'ReasonCode', label: 'Reason code', options: ['Policy', 'Duplicate'], required: true }],
    });
    expect(form('Approve', config)).toEqual({ comment: 'optional', choices: [] });
  });
  it('agrees with checkSignal: what the Deny form requires, checkSignal requires', () => {
    const config = { CommentRequired: 'OnDeny', ReasonCodes: ['Policy', 'Duplicate'] };
    const check = (data: Record<string, unknown>) => requireApprovalStep.checkSignal!('ApprovalStatus', data as never, config);
    expect(check({ Approved: false, Comment: 'x' })).toMatchObject({ ok: false, message: expect.stringContaining('ReasonCode is required') });
    expect(check({ Approved: false, ReasonCode: 'Policy' })).toMatchObject({ ok: false, message: expect.stringContaining('Comment is required') });
    expect(check({ Approved: false, Comment: 'x', ReasonCode: 'Policy' })).toEqual({ ok: true, data: { Approved: false, Comment: 'x', ReasonCode: 'Policy' } });
    expect(check({ Approved: true })).toEqual({ ok: true, data: { Approved: true, Comment: null } });
  });
});
