import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/core/errors.js';
import { gateContext, gateOf } from '../../../src/core/gates/context.js';
import { type GateRule, pass, refuse } from '../../../src/core/gates/gate-rule.js';
import { GATE_RULES, GATES } from '../../../src/core/gates/index.js';
import { enforceGates, runGates } from '../../../src/core/gates/run-gates.js';
import { FixedClock } from '../../fakes/fixed-clock.js';
import { MemoryDirectory } from '../../fakes/memory-directory.js';
import { gateConfig, gateCtx, ROLES } from './gate-fixture.js';

const names = (rules: readonly GateRule[]) => rules.map((r) => r.name);

describe('gate registry', () => {
  it('every phase runs rules of the registry; request-time and dry-run share their checks', () => {
    for (const rules of Object.values(GATES)) for (const rule of rules) expect(GATE_RULES).toContain(rule);
    expect(names(GATES.request)).toEqual(['freeze', 'requesters', 'unfillable-gate']);
    expect(names(GATES['dry-run'])).toEqual(['freeze', 'requesters', 'unfillable-gate', 'env-lock']);
    expect(names(GATES.plan)).toEqual(['rolled-back', 'marked-bad', 'required-checks', 'change-ticket']);
    expect(names(GATES.advice)).toEqual([
      'change-ticket',
      'rolled-back',
      'marked-bad',
      'freeze',
      'requesters',
      'unfillable-gate',
      'env-lock',
    ]);
    expect(names(GATES.approve)).toEqual(['expiry', 'approver']);
    expect(names(GATES.await)).toEqual(['expiry', 'roles-quorum']);
    expect(names(GATES.apply)).toEqual(['change-ticket']);
    expect(names(GATES.lock)).toEqual(['lock-permission']);
    expect(names(GATES.reject)).toEqual(['rejecter']);
  });

  it('the first refusal or wait decides; notes of passing rules are kept', async () => {
    const noted: GateRule = { name: 'noted', check: () => pass('a note') };
    const no: GateRule = {
      name: 'no',
      check: () => refuse(new NotAllowedError('no'), { audit: { action: 'x.refused', detail: {} } }),
    };
    const never: GateRule = {
      name: 'never',
      check: () => {
        throw new Error('not reached');
      },
    };
    expect(await runGates(gateCtx('request'), [noted, noted])).toEqual({
      verdict: 'pass',
      notes: ['a note', 'a note'],
    });
    expect(await runGates(gateCtx('request'), [noted, no, never])).toMatchObject({
      verdict: 'refuse',
      rule: 'no',
      reason: 'no',
    });
    const audited: string[] = [];
    await expect(enforceGates(gateCtx('request'), async (a) => audited.push(a.action), [no])).rejects.toThrow(
      NotAllowedError,
    );
    expect(audited).toEqual(['x.refused']);
  });

  it('builds its context from the configuration: the gate, the roles required, who holds what', async () => {
    const config = {
      roles: ROLES,
      environments: [
        { name: 'prod', gate: gateConfig({ roles: { 'tech-lead': 2 }, rollbackRoles: { 'tech-lead': 1 } }) },
      ],
      journal: { chain: [{ env: 'dit', gate: gateConfig({ roles: { 'qa-lead': 1 } }) }] },
    } as never;
    const sources = { config, clock: new FixedClock(), directory: new MemoryDirectory({ U_X: ['S_OPS'] }) };
    const ctx = gateContext(sources, 'request', {
      kind: 'rollback',
      app: 'api',
      env: 'prod',
      requester: 'U_X',
      emergency: true,
    });
    expect(ctx.required).toEqual({ 'tech-lead': 1 });
    expect(await ctx.rolesOf('U_X')).toEqual(['devops']);
    expect(gateOf(config, 'journal-promote', 'dit')?.roles).toEqual({ 'qa-lead': 1 });
    expect(gateOf(config, 'promote', 'nowhere')).toBeNull();
  });
});
