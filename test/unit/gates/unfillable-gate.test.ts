import { describe, expect, it } from 'vitest';
import { unfillableGate } from '../../../src/core/gates/unfillable-gate.js';
import { gateConfig, gateCtx } from './gate-fixture.js';

const reason = async (over: Parameters<typeof gateCtx>[1]) => {
  const v = await unfillableGate.check(gateCtx('request', over));
  return v.verdict === 'refuse' ? v.reason : v.verdict;
};

describe('gate rule: unfillable gate', () => {
  it('passes when enough people other than the requester hold each role', async () => {
    expect(await reason({ required: { 'tech-lead': 2 }, requester: 'U_DEV' })).toBe('pass');
  });

  it('counts the requester out and says who could give one', async () => {
    expect(await reason({ required: { 'tech-lead': 2 }, requester: 'U_LEAD' })).toBe(
      'prod needs 2 tech-lead approval(s) from someone other than the requester, and only U_LEAD2 can give one: this request could never be approved',
    );
    expect(await reason({ required: { 'product-owner': 1 }, requester: 'U_PO' })).toContain(
      'and nobody but you can give one',
    );
    expect(await reason({ required: { nobody: 1 } })).toContain('and nobody can give one');
  });

  it('trusts a role given to a user group, and skips requests that need no approval', async () => {
    expect(await reason({ required: { devops: 5 } })).toBe('pass');
    expect(await reason({ required: { nobody: 1 }, needsApproval: false })).toBe('pass');
    expect(await reason({ required: { nobody: 1 }, gate: null })).toBe('pass');
  });

  it('is what a gate config with roles nobody holds meets', async () => {
    expect(await reason({ gate: gateConfig({ roles: { nobody: 1 } }), required: { nobody: 1 } })).toContain(
      'could never be approved',
    );
  });
});
