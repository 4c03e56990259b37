import { describe, expect, it } from 'vitest';
import { expiry } from '../../../src/core/gates/expiry.js';
import { gateCtx } from './gate-fixture.js';

const op = (expiresAt: string | null, state: 'awaiting-approval' | 'approved' = 'awaiting-approval') => ({
  id: 'op_1',
  state,
  expiresAt,
});

describe('gate rule: expiry', () => {
  it('passes before expiresAt, and operations that do not wait', async () => {
    expect((await expiry.check(gateCtx('await', { operation: op('2025-03-06T00:00:00Z') }))).verdict).toBe('pass');
    expect((await expiry.check(gateCtx('await', { operation: op(null) }))).verdict).toBe('pass');
    expect(
      (await expiry.check(gateCtx('approve', { operation: op('2025-03-01T00:00:00Z', 'approved') }))).verdict,
    ).toBe('pass');
  });

  it('ends a request nobody approved in time as expired', async () => {
    const v = await expiry.check(gateCtx('approve', { operation: op('2025-03-05T11:59:59Z') }));
    expect(v).toMatchObject({
      verdict: 'refuse',
      reason: 'nobody approved in time',
      outcome: 'expired',
      audit: { action: 'approval.refused', detail: { reason: 'expired' } },
    });
  });
});
