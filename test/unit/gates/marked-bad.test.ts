import { describe, expect, it } from 'vitest';
import type { BadMark } from '../../../src/core/bad-versions.js';
import { markedBad } from '../../../src/core/gates/marked-bad.js';
import { envState, gateConfig, gateCtx } from './gate-fixture.js';

// qa ran T2 (qa/1); its smoke check failed in the soak window afterwards: T2 is marked bad in qa.
const qaTag = {
  name: 'qa/1',
  sha: 'c2',
  tree: 'T2',
  date: '2025-03-02T00:00:00Z',
  message: 'Deploy\n\nKind: promote\nOperation: op_1',
};
const mark: BadMark = {
  app: 'api',
  env: 'qa',
  tree: 'T2',
  sha: 'c2',
  tag: 'qa/1',
  reason: 'check smoke (http) failed: status 503 (soak window)',
  operation: 'op_1',
  at: '2025-03-02T01:00:00Z',
};
const dev = envState('development', { sha: 'c2', tree: 'T2' });
const qa = envState('qa', { sha: 'c2', tree: 'T2' }, [qaTag]);
const staging = envState('staging', { sha: 'c0', tree: 'T0' });
const gate = gateConfig({ roles: { 'tech-lead': 1 } });
const promotion = { states: [dev, qa, staging], target: 2, tree: 'T2', label: 'qa/1', markedBad: [mark] };

describe('gate rule: marked bad by verification', () => {
  it('passes another version, and the version where no mark holds', async () => {
    const other = await markedBad.check(
      gateCtx('plan', { env: 'staging', gate, promotion: { ...promotion, tree: 'T9' } }),
    );
    expect(other.verdict).toBe('pass');
    const none = await markedBad.check(
      gateCtx('plan', { env: 'staging', gate, promotion: { ...promotion, markedBad: [] } }),
    );
    expect(none.verdict).toBe('pass');
  });

  it('refuses it after the environment where it failed, with the reason, naming --force to a target approver', async () => {
    const v = await markedBad.check(gateCtx('plan', { env: 'staging', gate, requester: 'U_LEAD', promotion }));
    expect(v.verdict === 'refuse' && v.reason).toBe(
      'qa/1 failed verification in qa (check smoke (http) failed: status 503 (soak window)), so it does not move on to staging',
    );
    expect(v.verdict === 'refuse' && v.suggestion).toBe('promote api staging --force');
  });

  it('tells someone without the roles who may force it; --force passes an approver with a note', async () => {
    const v = await markedBad.check(gateCtx('plan', { env: 'staging', gate, requester: 'U_DEV', promotion }));
    expect(v.verdict === 'refuse' && v.reason).toMatch(
      /; only someone holding tech-lead may ship it anyway, with --force$/,
    );
    const forced = await markedBad.check(
      gateCtx('plan', { env: 'staging', gate, requester: 'U_LEAD', promotion: { ...promotion, force: true } }),
    );
    expect(forced).toEqual({ verdict: 'pass', note: 'forced past a failed verification in qa' });
  });

  it('a mark stops counting once the version is deployed there again on purpose', async () => {
    const again = envState('qa', { sha: 'c3', tree: 'T2' }, [
      { ...qaTag, name: 'qa/3', sha: 'c3', date: '2025-03-04T00:00:00Z' },
      qaTag,
    ]);
    const v = await markedBad.check(
      gateCtx('plan', { env: 'staging', gate, promotion: { ...promotion, states: [dev, again, staging] } }),
    );
    expect(v.verdict).toBe('pass');
  });

  it("in diff's advice: refused without naming --force", async () => {
    const v = await markedBad.check(gateCtx('advice', { env: 'staging', gate, requester: 'U_LEAD', promotion }));
    expect(v.verdict === 'refuse' && v.reason).toBe('this version failed verification in qa');
  });
});
