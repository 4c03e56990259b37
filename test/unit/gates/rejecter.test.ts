import { describe, expect, it } from 'vitest';
import { ConflictError, NotAllowedError } from '../../../src/core/errors.js';
import type { GateRefusal } from '../../../src/core/gates/gate-rule.js';
import { rejecter } from '../../../src/core/gates/rejecter.js';
import type { OperationState } from '../../../src/core/operation.js';
import { gateCtx } from './gate-fixture.js';

const required = { 'tech-lead': 1, 'product-owner': 1 };
const ctx = (user: string, state: OperationState = 'awaiting-approval', roles: Record<string, number> = required) =>
  gateCtx('reject', {
    required: roles,
    operation: { id: 'op_1', state, expiresAt: null },
    rejection: { by: user },
  });

describe('gate rule: rejecter', () => {
  it('lets a holder of a required role reject, and the requester withdraw', async () => {
    expect((await rejecter.check(ctx('U_LEAD'))).verdict).toBe('pass');
    expect((await rejecter.check(ctx('U_PO'))).verdict).toBe('pass');
    expect((await rejecter.check(ctx('U_DEV'))).verdict).toBe('pass'); // the requester
  });

  it('refuses (and audits) someone who holds none of the required roles', async () => {
    const v = (await rejecter.check(ctx('U_QA'))) as GateRefusal;
    expect(v.verdict).toBe('refuse');
    expect(v.error).toBeInstanceOf(NotAllowedError);
    expect(v.reason).toBe('only an approver (tech-lead, product-owner) or the requester can reject op_1');
    expect(v.audit).toEqual({ action: 'rejection.refused', detail: {} });
  });

  it('refuses an operation that no longer waits, before asking anyone their roles, without an audit line', async () => {
    let asked = 0;
    const rolesOf = async () => {
      asked++;
      return ['tech-lead'];
    };
    const c = { ...ctx('U_LEAD', 'applying'), rolesOf };
    const v = (await rejecter.check(c)) as GateRefusal;
    expect(v.error).toBeInstanceOf(ConflictError);
    expect(v.reason).toBe('operation op_1 is applying; it cannot be rejected now');
    expect(v.audit).toBeUndefined();
    expect(asked).toBe(0);
  });

  it('where the gate requires nobody, only the requester may withdraw', async () => {
    expect((await rejecter.check(ctx('U_DEV', 'awaiting-approval', {}))).verdict).toBe('pass');
    const v = (await rejecter.check(ctx('U_LEAD', 'awaiting-approval', {}))) as GateRefusal;
    expect(v.reason).toBe('only an approver () or the requester can reject op_1');
  });

  it('passes outside the reject phase (no one rejecting)', async () => {
    expect((await rejecter.check(gateCtx('approve'))).verdict).toBe('pass');
  });
});
