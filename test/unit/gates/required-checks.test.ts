import { describe, expect, it } from 'vitest';
import { requiredChecks } from '../../../src/core/gates/required-checks.js';
import type { ChecksState } from '../../../src/core/ports.js';
import { gateConfig, gateCtx } from './gate-fixture.js';

const gate = gateConfig({ requireChecks: true });
const facts = (state: ChecksState) => ({
  states: [],
  target: 0,
  tree: 't',
  sourceSha: 'abcdef0123456789',
  checks: async () => state,
});
const reason = async (over: Parameters<typeof gateCtx>[1]) => {
  const v = await requiredChecks.check(gateCtx('plan', over));
  return v.verdict === 'refuse' ? v.reason : v.verdict;
};

describe('gate rule: required checks', () => {
  it('refuses failing and running checks, passes success and none', async () => {
    expect(await reason({ gate, promotion: facts('failure') })).toBe(
      'the checks of abcdef01 are failing; prod requires passing checks',
    );
    expect(await reason({ gate, promotion: facts('pending') })).toBe(
      'the checks of abcdef01 are still running; prod requires passing checks',
    );
    expect(await reason({ gate, promotion: facts('success') })).toBe('pass');
    expect(await reason({ gate, promotion: facts('none') })).toBe('pass');
  });

  it('does nothing where the gate does not ask or the host has no checks', async () => {
    expect(await reason({ promotion: facts('failure') })).toBe('pass');
    expect(await reason({ gate, promotion: { ...facts('failure'), checks: undefined } })).toBe('pass');
  });
});
