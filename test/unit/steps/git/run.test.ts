import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../../src/core/errors.js';
import { gitRun } from '../../../../src/core/steps/git/run.js';
import type { GitStep } from '../../../../src/core/steps/git/step.js';
import { gitOperation } from '../step-fixture.js';

describe('Git steps: the run of one operation', () => {
  it('names as approvers only those who approved the version that ships', async () => {
    const { store, engine, op } = await gitOperation();
    await store.addApproval(op.id, 'U_QA', 'qa-lead', 'T1');
    await store.addApproval(op.id, 'U_OLD', 'qa-lead', 'T0');
    expect((await gitRun(engine, op)).approvers).toEqual(['U_QA (qa-lead)']);
  });

  it("a step's slice and a new plan land both in the record it reads and in the store", async () => {
    const { engine, op, reload } = await gitOperation();
    const run = await gitRun(engine, op);
    const step: GitStep<'move-branch'> = {
      name: 'move-branch',
      async run(ctx) {
        await ctx.save({ pushing: true });
        await ctx.savePlan({ ...ctx.plan, mode: 'commit' });
        expect(ctx.op.progress.pushing).toBe(true);
        expect(ctx.plan.mode).toBe('commit');
        return 'done';
      },
    };
    expect(await run.step(step)).toBe('done');
    expect(run.plan.mode).toBe('commit');
    expect(await reload()).toMatchObject({ progress: { pushing: true }, plan: { mode: 'commit' } });
  });

  it('refuses an app with no repository connected', async () => {
    const { engine, op } = await gitOperation();
    engine.deps.git.clear();
    await expect(gitRun(engine, op)).rejects.toThrow(NotAllowedError);
  });
});
