/**
 * CLI list: `conveyor run list --as U_DEMO` (the compiled `dist/`, as `npm install` builds it)
 * beside a running `conveyor serve` on the sandbox, from spawn to exit, as a person at a shell
 * meets it. The command goes to the serve (`POST /api/run`), which answers from the mirrors it
 * keeps fresh (README, "Freshness"). Baseline: `node -e 0`, the floor of any Node command.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { copySandbox } from '../../test/support/runtime.js';
import { figure, type Scenario } from '../lib/figure.js';
import { childEnv, spawnChild } from '../lib/proc.js';
import { type RunningServe, takeServe } from '../lib/serve-handoff.js';
import { median, timed } from '../lib/stats.js';

const run = promisify(execFile);
const CONVEYOR = fileURLToPath(new URL('../../bin/conveyor.js', import.meta.url));

/** `conveyor serve` on a copy of the run's sandbox, in a folder of its own: once it serves. */
async function startServe(env: NodeJS.ProcessEnv): Promise<RunningServe> {
  const cwd = await mkdtemp(join(tmpdir(), 'conveyor-bench-cli-'));
  await copySandbox(cwd);
  const child = spawnChild(process.execPath, [CONVEYOR, 'serve', '--port', '0'], { cwd, env });
  const stop = async () => {
    await child.stop();
    await rm(cwd, { recursive: true, force: true });
  };
  try {
    await child.waitForLine(/serving the sandbox on http:\/\/[^:]+:(\d+)/, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, cwd, stop };
}

export const cliList: Scenario = {
  name: 'cli-list',
  title: 'conveyor run list beside a running serve: spawn to exit',
  timeoutMs: (quick) => (quick ? 120_000 : 300_000),
  setUpBesideTearDown: true,
  async run(ctx) {
    const runs = ctx.quick ? 5 : 15;
    const env = childEnv();
    for (const key of Object.keys(env)) if (/^(SLACK_|GITHUB_|DATABASE_URL|PORT)/.test(key)) delete env[key];
    // serve on the sandbox: the footprint scenario's restarted serve when it ran just before
    // (lib/serve-handoff.ts), else one started here on a copy of the run's sandbox (set-up)
    const handed = takeServe();
    const serve = handed ?? (await startServe(env));
    const { cwd } = serve;
    const serveNote = handed
      ? "the serve is the footprint scenario's restarted serve (measured there, then left running for this one)"
      : "the serve was started on a copy of the run's sandbox";
    try {
      await ctx.quiet(); // the earlier scenarios' tear-downs are done before anything is timed
      ctx.log(`serve up; ${runs} runs each of node -e 0 and conveyor run list`);
      const base: number[] = [];
      const list: number[] = [];
      let text = '';
      for (let i = 0; i < runs; i++) {
        base.push((await timed(() => run(process.execPath, ['-e', '0'], { cwd, env }))).ms);
        const t = await timed(() => run(process.execPath, [CONVEYOR, 'run', 'list', '--as', 'U_DEMO'], { cwd, env }));
        list.push(t.ms);
        text = t.result.stdout;
      }
      if (!/api\s+prod/.test(text))
        throw new Error(`conveyor run list did not answer with the matrix: ${text.slice(0, 200)}`);
      return [
        figure({
          scenario: 'cli-list',
          figure: 'conveyor run list beside serve (median)',
          unit: 'ms',
          value: median(list),
          baseline: median(base),
          check: { kind: 'max', max: 300, inclusive: true },
          notes: `spawn to exit of \`node bin/conveyor.js run list --as U_DEMO\` (dist/), ${runs} runs; serve answers from its kept mirrors; ${serveNote}; baseline \`node -e 0\``,
        }),
      ];
    } finally {
      ctx.afterward(() => serve.stop());
    }
  },
};
