import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/core/errors.js';
import { gitStepContext } from '../../../src/core/steps/git-step-context.js';
import { gitOperation } from './step-fixture.js';

describe('step context', () => {
  it('names as approvers only those who approved the version that ships', async () => {
    const { store, engine, op } = await gitOperation();
    await store.addApproval(op.id, 'U_QA', 'qa-lead', 'T1');
    await store.addApproval(op.id, 'U_OLD', 'qa-lead', 'T0');
    expect((await gitStepContext(engine, op)).approvers).toEqual(['U_QA (qa-lead)']);
  });

  it('saves progress and plan both in the record and in the store', async () => {
    const { engine, op, reload } = await gitOperation();
    const ctx = await gitStepContext(engine, op);
    await ctx.save({ replanned: true });
    await ctx.savePlan({ ...ctx.plan, mode: 'commit' });
    expect(op.progress.replanned).toBe(true);
    expect(await reload()).toMatchObject({ progress: { replanned: true }, plan: { mode: 'commit' } });
  });

  it('refuses an app with no repository connected', async () => {
    const { engine, op } = await gitOperation();
    engine.deps.git.clear();
    await expect(gitStepContext(engine, op)).rejects.toThrow(NotAllowedError);
  });
});
