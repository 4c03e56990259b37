import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/core/errors.js';
import { rolledBack } from '../../../src/core/gates/rolled-back.js';
import { envState, gateConfig, gateCtx } from './gate-fixture.js';

// qa ran T2 (qa/1), then rolled back to T1 (qa/2): T2 is bad from qa on.
const qa = envState('qa', { sha: 'c1', tree: 'T1' }, [
  {
    name: 'qa/2',
    sha: 'c1b',
    tree: 'T1',
    date: '2025-03-03T00:00:00Z',
    message: 'Rollback\n\nKind: rollback\nRolled-Back-From: c2\nRolled-Back-From-Tree: T2',
  },
  {
    name: 'qa/1',
    sha: 'c2',
    tree: 'T2',
    date: '2025-03-02T00:00:00Z',
    message: 'Deploy\n\nKind: promote\nOperation: op_1',
  },
]);
const dev = envState('development', { sha: 'c2', tree: 'T2' });
const staging = envState('staging', { sha: 'c0', tree: 'T0' });
const states = [dev, qa, staging];
const gate = gateConfig({ roles: { 'tech-lead': 1 } });
const promotion = { states, target: 2, tree: 'T2', label: 'qa/1' };

describe('gate rule: rolled back', () => {
  it('passes a version nobody rolled back from', async () => {
    expect(
      (await rolledBack.check(gateCtx('plan', { env: 'staging', gate, promotion: { ...promotion, tree: 'T9' } })))
        .verdict,
    ).toBe('pass');
  });

  it('refuses it after the environment that rolled back, naming --force to a target approver', async () => {
    const v = await rolledBack.check(
      gateCtx('plan', { env: 'staging', gate, requester: 'U_LEAD', promotion: { ...promotion, ticket: 'CHG1' } }),
    );
    expect(v.verdict === 'refuse' && v.error).toBeInstanceOf(NotAllowedError);
    expect(v.verdict === 'refuse' && v.reason).toBe(
      'qa/1 was rolled back from in qa, so it does not move on to staging; a newer version is not held back: commit a fix and promote it from development',
    );
    expect(v.verdict === 'refuse' && v.suggestion).toBe('promote api staging --ticket CHG1 --force');
  });

  it('tells someone without the roles who may force it', async () => {
    const v = await rolledBack.check(gateCtx('plan', { env: 'staging', gate, requester: 'U_DEV', promotion }));
    expect(v.verdict === 'refuse' && v.reason).toBe(
      'qa/1 was rolled back from in qa, so it does not move on to staging; a newer version is not held back: commit a fix and promote it from development; only U_LEAD or U_LEAD2 (tech-lead) may ship this one anyway, with --force',
    );
    expect(v.verdict === 'refuse' && v.suggestion).toBeUndefined();
  });

  it('names no --force when no holder of the roles could get the approval of another', async () => {
    const ctx = gateCtx('plan', { env: 'staging', gate, requester: 'U_LEAD', promotion });
    ctx.roles = { ...ctx.roles, 'tech-lead': { users: ['U_LEAD'], groups: [] } };
    const v = await rolledBack.check(ctx);
    expect(v.verdict === 'refuse' && v.reason).toBe(
      "qa/1 was rolled back from in qa, so it does not move on to staging; a newer version is not held back: commit a fix and promote it from development; --force would not help: whoever forces it still needs 1 tech-lead approval(s) from others, and staging's roles have too few people",
    );
    expect(v.verdict === 'refuse' && v.suggestion).toBeUndefined();
  });

  it('--force: passes with a note for an approver, refuses anyone else', async () => {
    expect(
      await rolledBack.check(
        gateCtx('plan', { env: 'staging', gate, requester: 'U_LEAD', promotion: { ...promotion, force: true } }),
      ),
    ).toEqual({
      verdict: 'pass',
      note: 'forced past the rollback in qa',
    });
    const v = await rolledBack.check(
      gateCtx('plan', { env: 'staging', gate, requester: 'U_DEV', promotion: { ...promotion, force: true } }),
    );
    expect(v.verdict === 'refuse' && v.reason).toBe('--force into staging needs one of its approver roles (tech-lead)');
  });

  it('advice: a later stage after the rollback is refused in plain words', async () => {
    const v = await rolledBack.check(gateCtx('advice', { env: 'staging', gate, promotion }));
    expect(v.verdict === 'refuse' && v.reason).toBe('this version was rolled back from before staging');
    expect(
      (await rolledBack.check(gateCtx('advice', { env: 'development', gate, promotion: { ...promotion, target: 0 } })))
        .verdict,
    ).toBe('pass');
  });
});
