/**
 * promote on plain Git: `promote web qa` from Slack on the sandbox's real bare repositories
 * (command → mirror fetch → plan → operation stored → branch moved and annotated deploy tag
 * pushed → reply). Baseline: the same by hand on a copy of the repository, in a shell of its
 * own that times itself: fetch into a bare mirror, push the branch, create the annotated tag,
 * push it. Before each sample someone pushes to develop, so each promotion has something to
 * move.
 */
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { pushCommit } from '../../test/support/git-helpers.js';
import { makeRuntime } from '../../test/support/runtime.js';
import { figure, type Scenario } from '../lib/figure.js';
import { childEnv } from '../lib/proc.js';
import { median, percentile, timed } from '../lib/stats.js';

/** fetch + push + tag + push, timed inside the shell (µs), so the bench's own spawn is not in it. */
const BY_HAND = `t0=$(date +%s%N)
git -C "$M" fetch --quiet origin '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
git -C "$M" push --quiet origin +refs/heads/develop:refs/heads/qa
git -C "$M" -c user.name=Bench -c user.email=bench@localhost tag -a "qa/bench.$I" refs/heads/develop -m "Deploy of direct to qa"
git -C "$M" push --quiet origin "refs/tags/qa/bench.$I"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000 ))`;

export const promoteGit: Scenario = {
  name: 'promote-git',
  title: 'promote web qa on plain Git (the sandbox)',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  setUpBesideTearDown: true,
  async run(ctx) {
    const samples = ctx.quick ? 3 : 25;
    const t = await makeRuntime();
    try {
      const direct = join(t.dir, 'direct.git');
      const mirror = join(t.dir, 'direct-mirror.git');
      cpSync(t.repo('web'), direct, { recursive: true });
      execFileSync('git', ['clone', '--bare', '--quiet', direct, mirror], { env: childEnv() });
      const byHand = (i: number) =>
        Number(
          execFileSync('sh', ['-c', BY_HAND], { env: childEnv({ M: mirror, I: String(i) }), encoding: 'utf8' }).trim(),
        ) / 1000;
      const dispatcher = new Dispatcher(t.runtime);
      let n = 0;
      const promoteOnce = async () => {
        const reply = await dispatcher.execute({
          text: 'promote web qa',
          user: 'U_DEMO',
          source: 'slack',
          channel: 'C0BENCH01',
          idempotencyKey: `bench-promote-git-${process.pid}-${++n}`,
        });
        if (reply.operation?.state !== 'succeeded')
          throw new Error(`promote ended ${reply.operation?.state ?? reply.status}: ${reply.title}`);
      };
      await ctx.quiet(); // the earlier scenarios' tear-downs are done before the warm-up and samples
      // warm-up: the first promotion clones the mirror
      ctx.log('warm-up (the first promotion clones the mirror)');
      pushCommit(t.repo('web'), 'develop');
      await promoteOnce();
      pushCommit(direct, 'develop');
      byHand(0);
      ctx.log(`${samples} promotions, each beside the same by hand`);
      const ours: number[] = [];
      const base: number[] = [];
      for (let i = 1; i <= samples; i++) {
        pushCommit(direct, 'develop', { message: `Bench change ${i}` });
        base.push(byHand(i));
        pushCommit(t.repo('web'), 'develop', { message: `Bench change ${i}` });
        ours.push((await timed(promoteOnce)).ms);
      }
      return [
        figure({
          scenario: 'promote-git',
          figure: 'promote reply time, plain Git (median)',
          unit: 'ms',
          value: median(ours),
          baseline: median(base),
          check: { kind: 'ratio-max', max: 1.5 },
          notes:
            `${samples} promotions of web to qa on the sandbox's bare repositories${ctx.quick ? ' (quick size)' : ''}, each after a push to develop; ` +
            `p90 ${Math.round(percentile(ours, 90))} ms vs by hand ${Math.round(percentile(base, 90))} ms; ` +
            'baseline: fetch, push, tag -a, push in a shell that times itself; Conveyor also plans, stores the operation and each step, and checks its locks and gate',
        }),
      ];
    } finally {
      ctx.afterward(() => t.close());
    }
  },
};
