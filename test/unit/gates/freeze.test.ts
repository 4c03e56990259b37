import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/core/errors.js';
import { activeFreeze, freeze } from '../../../src/core/gates/freeze.js';
import { gateConfig, gateCtx } from './gate-fixture.js';

const frozen = gateConfig({
  freezes: [{ from: '2025-03-01T00:00:00Z', to: '2025-03-10T00:00:00Z', reason: 'release freeze' }] as never,
});

describe('gate rule: freeze', () => {
  it('passes outside any window', async () => {
    expect(await freeze.check(gateCtx('request'))).toEqual({ verdict: 'pass' });
  });

  it('refuses a promotion inside a window with its reason', async () => {
    const v = await freeze.check(gateCtx('request', { gate: frozen }));
    expect(v.verdict).toBe('refuse');
    if (v.verdict !== 'refuse') return;
    expect(v.error).toBeInstanceOf(NotAllowedError);
    expect(v.reason).toBe('prod is frozen: release freeze');
  });

  it('lets an --emergency rollback through and names it to an ordinary rollback', async () => {
    expect((await freeze.check(gateCtx('request', { gate: frozen, kind: 'rollback', emergency: true }))).verdict).toBe(
      'pass',
    );
    const v = await freeze.check(gateCtx('dry-run', { gate: frozen, kind: 'rollback' }));
    expect(v.verdict === 'refuse' && v.reason).toBe(
      'prod is frozen: release freeze (an --emergency rollback is allowed)',
    );
  });

  it('reads weekly windows on their own wall clock, across midnight', () => {
    const weekly = gateConfig({
      freezes: [
        { weekly: { days: ['fri'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' }, reason: 'weekend' },
      ] as never,
    });
    expect(activeFreeze(weekly, new Date('2025-03-07T22:30:00Z'))).toBe('weekend'); // Fri 23:30 in Berlin
    expect(activeFreeze(weekly, new Date('2025-03-08T04:00:00Z'))).toBe('weekend'); // Sat 05:00, the night Friday started
    expect(activeFreeze(weekly, new Date('2025-03-08T06:00:00Z'))).toBeNull(); // Sat 07:00
    expect(activeFreeze(weekly, new Date('2025-03-06T22:30:00Z'))).toBeNull(); // Thursday night
  });
});
