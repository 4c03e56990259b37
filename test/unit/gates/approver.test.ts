import { describe, expect, it } from 'vitest';
import { ConflictError, NotAllowedError } from '../../../src/core/errors.js';
import { approver, openRolesFor } from '../../../src/core/gates/approver.js';
import { gateCtx } from './gate-fixture.js';

const required = { 'tech-lead': 1, 'product-owner': 1 };
const ctx = (
  user: string,
  approvals: { userId: string; role: string; sha: string }[] = [],
  state: 'awaiting-approval' | 'applying' = 'awaiting-approval',
) =>
  gateCtx('approve', {
    required,
    operation: { id: 'op_1', state, expiresAt: null },
    approval: { approver: user, load: async () => ({ approvals, subject: 'T1' }) },
  });
const refusal = async (c: ReturnType<typeof ctx>) => {
  const v = await approver.check(c);
  return v.verdict === 'refuse' ? { error: v.error.constructor, reason: v.reason, audit: v.audit?.detail } : v.verdict;
};

describe('gate rule: approver', () => {
  it('lets a holder of an open role approve', async () => {
    expect(await refusal(ctx('U_LEAD'))).toBe('pass');
    expect(openRolesFor(required, [], 'T1', 'U_DEV', ['tech-lead', 'product-owner'])).toEqual([
      'tech-lead',
      'product-owner',
    ]);
  });

  it('refuses an operation that does not wait, the requester, and a second approval by the same person', async () => {
    expect(await refusal(ctx('U_LEAD', [], 'applying'))).toEqual({
      error: ConflictError,
      reason: 'operation op_1 is applying; there is nothing to approve',
      audit: { reason: 'state applying' },
    });
    expect(await refusal(ctx('U_DEV'))).toEqual({
      error: NotAllowedError,
      reason: 'you asked for this operation; someone else must approve it',
      audit: { reason: 'requester' },
    });
    expect(await refusal(ctx('U_LEAD', [{ userId: 'U_LEAD', role: 'tech-lead', sha: 'T1' }]))).toEqual({
      error: ConflictError,
      reason: 'you already approved op_1; one person fills one role',
      audit: { reason: 'already-approved' },
    });
  });

  it('refuses a role already filled, and someone holding none of the roles', async () => {
    expect(await refusal(ctx('U_LEAD2', [{ userId: 'U_LEAD', role: 'tech-lead', sha: 'T1' }]))).toEqual({
      error: NotAllowedError,
      reason: 'the tech-lead approval is already given',
      audit: { roles: ['tech-lead'] },
    });
    expect(await refusal(ctx('U_QA'))).toEqual({
      error: NotAllowedError,
      reason: 'you are not one of the approvers (tech-lead, product-owner) of op_1',
      audit: { roles: ['qa-lead'] },
    });
  });
});
