/**
 * `list` at scale: apps × 4 environments on the GitHub fake, asked from Slack right after the
 * controller started and finished its first pass over the repositories (as `serve` runs it:
 * conditional GETs, each mirror vouched for and its refs read once). Headline: the FIRST list
 * after that start, at 200 and 1000 apps (50 alone in --quick, with the larger size's target); the
 * warm lists after it are in the notes. Baseline: `git for-each-ref` over every mirror, from a shell that times itself.
 * The fake's repositories are seeded once, for the larger size; each size starts from its own
 * fresh mirrors, runtime and controller over the first N of them. What only the runtime and the
 * run need (Conveyor's composition, controller, dispatcher) is imported when first needed, so
 * that the `prepare` starts seeding while the bench still loads them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createOctokit } from '../../src/adapters/github.js';
import type { RunningController } from '../../src/controller/controller.js';
import { type GitHubFake, startGitHubFake } from '../../test/support/github-fake.js';
import type { makeRuntime } from '../../test/support/runtime.js';
import { type Figure, figure, type Scenario, type ScenarioContext } from '../lib/figure.js';
import { type ScaledUpstream, scaledMirrors, seedUpstream } from '../lib/github-scale.js';
import { childEnv } from '../lib/proc.js';
import { median, timed } from '../lib/stats.js';

const OWNER = 'acme';
const TOKEN = 'ghs_BENCHTOKEN0123456789';
const FOR_EACH_REF = `t0=$(date +%s%N)
for d in "$MIRRORS"/*.git; do git -C "$d" for-each-ref >/dev/null; done
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000 ))`;

/** One size's set-up, measuring nothing: fresh mirrors of the first `apps` repositories, a runtime over them. */
interface SizeSetUp {
  apps: number;
  gh: GitHubFake;
  tmp: string;
  scaled: Awaited<ReturnType<typeof scaledMirrors>>;
  t: Awaited<ReturnType<typeof makeRuntime>>;
  /** Closes the runtime and removes the mirrors. */
  remove(): Promise<void>;
}

async function setUpSize(gh: GitHubFake, upstream: ScaledUpstream, apps: number): Promise<SizeSetUp> {
  const tmp = await mkdtemp(join(tmpdir(), 'conveyor-bench-list-'));
  let t: Awaited<ReturnType<typeof makeRuntime>> | undefined;
  try {
    const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retries: 0 });
    const scaled = await scaledMirrors({ fake: gh, octokit, upstream, count: apps, dir: tmp });
    const { makeRuntime } = await import('../../test/support/runtime.js');
    t = await makeRuntime({
      edit: (c) => {
        c.apps = scaled.names.map((name) => ({ name, repo: `${OWNER}/${name}` }));
      },
      extra: { gitHosts: scaled.hosts },
    });
    const runtime = t;
    return {
      apps,
      gh,
      tmp,
      scaled,
      t,
      async remove() {
        await runtime.close();
        await rm(tmp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await t?.close();
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Measures one size; its tear-down goes to `tearDowns` (the runner finishes it in the background). */
async function atScale(
  ctx: ScenarioContext,
  setUp: SizeSetUp,
  target: number,
  tearDowns: (() => Promise<void>)[],
): Promise<Figure[]> {
  const { apps, gh, tmp, scaled, t } = setUp;
  const runs = ctx.quick ? 1 : 3;
  const [{ startController }, { Dispatcher }, { HttpServer }] = await Promise.all([
    import('../../src/controller/controller.js'),
    import('../../src/core/dispatcher.js'),
    import('../../src/server/http-server.js'),
  ]);
  let controller: RunningController | undefined;
  const http = new HttpServer(pino({ level: 'silent' }));
  try {
    const envs = t.config.environments;
    await http.listen(0, '127.0.0.1');
    await ctx.quiet(); // the earlier scenarios' tear-downs are done before anything is timed
    ctx.log(`${apps} apps: controller start and its first pass over the repositories`);
    const started = await timed(async () => {
      controller = await startController({
        runtime: t.runtime,
        http,
        secrets: {},
        log: pino({ level: 'silent' }),
        kubeConfigs: {},
      });
      await controller.pollNow();
    });
    const dispatcher = new Dispatcher(t.runtime);
    const list = async () => {
      const reply = await dispatcher.execute({ text: 'list', user: 'U_DEMO', source: 'slack', channel: 'C0BENCH01' });
      const rows = (reply.data as { rows?: unknown[] } | undefined)?.rows?.length ?? 0;
      if (reply.status !== 'ok' || rows !== apps * envs.length)
        throw new Error(`list answered ${reply.status} with ${rows} rows: ${reply.title}`);
    };
    gh.resetCounters();
    scaled.counter.syncs = 0;
    const first = await timed(list);
    const firstFetches = scaled.counter.syncs;
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) warm.push((await timed(list)).ms);
    const apiCalls = gh.calls.total;
    ctx.log(`${apps} apps: listed; stopping the controller`);
    await controller!.stop();
    controller = undefined;
    const baselineMs =
      Number(
        execFileSync('sh', ['-c', FOR_EACH_REF], {
          env: childEnv({ MIRRORS: join(tmp, 'mirrors') }),
          encoding: 'utf8',
        }).trim(),
      ) / 1000;
    const size = `${apps} apps × ${envs.length} environments${ctx.quick ? ` (quick size: the quick run measures this one size, with the full run's ${target} ms target for 1000 apps)` : ''}`;
    return [
      figure({
        scenario: 'list-scale',
        figure: `first list after start, ${apps} apps`,
        unit: 'ms',
        value: first.ms,
        baseline: baselineMs,
        check: { kind: 'max', max: target, inclusive: true },
        notes:
          `${size}; the first Slack-sourced list after the controller started and finished its first pass ` +
          `(${Math.round(started.ms)} ms: conditional GETs, mirrors vouched for, their refs read once); ` +
          `${firstFetches} mirror fetch(es) during it; warm lists after it: median ${Math.round(median(warm))} ms of ${runs}; ` +
          'baseline: git for-each-ref over every mirror from a shell (timed inside it)',
      }),
      figure({
        scenario: 'list-scale',
        figure: `GitHub API calls per list, ${apps} apps`,
        unit: 'calls',
        value: apiCalls / (runs + 1),
        baseline: null,
        check: { kind: 'equals', value: 0 },
        notes: `${size}; counted by the GitHub fake over the first and the warm lists (REST only; Git fetches of the mirrors are not API calls)`,
      }),
    ];
  } finally {
    const running = controller;
    tearDowns.push(async () => {
      await running?.stop();
      await http.close();
      await setUp.remove();
    });
  }
}

/**
 * The sizes and their targets: 200 and 1000 apps in the full run; the quick run measures 50 apps
 * alone, against the larger size's target (each size costs seconds of set-up that measure nothing:
 * its mirrors, runtime and controller).
 */
const sizesOf = (quick: boolean): { apps: number; target: number }[] =>
  quick
    ? [{ apps: 50, target: 3000 }]
    : [
        { apps: 200, target: 1000 },
        { apps: 1000, target: 3000 },
      ];
const largest = (quick: boolean) => Math.max(...sizesOf(quick).map((s) => s.apps));

interface Upstream {
  gh: GitHubFake;
  upstream: ScaledUpstream;
  stop(): Promise<void>;
}

/**
 * The fake's repositories, made once for the larger size (each size lists the first N of them
 * from its own fresh mirrors, runtime and controller). Measures nothing; idle once made.
 */
async function seedFake(quick: boolean): Promise<Upstream> {
  const gh = await startGitHubFake({ token: TOKEN, rateLimit: 1_000_000 });
  try {
    const upstream = await seedUpstream({ fake: gh, owner: OWNER, count: largest(quick) });
    return { gh, upstream, stop: () => gh.close() };
  } catch (err) {
    await gh.close();
    throw err;
  }
}

export const listAtScale: Scenario = {
  name: 'list-scale',
  title: 'first `list` after start over apps × 4 environments',
  timeoutMs: (quick) => (quick ? 180_000 : 900_000),
  // The first size's mirrors and runtime are the run's set-up, beside the previous scenario's
  // tear-down: made in the prepare, after the seeding, they were the last of it to finish and
  // lengthened it by more than they saved (2–6 s against ~2 s, on a loaded machine).
  prepare: (quick) => seedFake(quick),
  setUpBesideTearDown: true,
  async run(ctx, prepared) {
    const sizes = sizesOf(ctx.quick);
    ctx.log(
      prepared
        ? `${largest(ctx.quick)} repositories were seeded on the GitHub fake while the bench loaded`
        : `seeding ${largest(ctx.quick)} repositories on the GitHub fake`,
    );
    const { gh, upstream } = (await (prepared ?? seedFake(ctx.quick))) as Upstream;
    const tearDowns: (() => Promise<void>)[] = [];
    // Each size on its own guard: a size that cannot finish is one missed figure saying why,
    // and the other size still reports.
    const guarded = async (apps: number, target: number): Promise<Figure[]> => {
      let timer: NodeJS.Timeout | undefined;
      const limitMs = ctx.quick ? 80_000 : 420_000;
      try {
        return await Promise.race([
          (async () => {
            ctx.log(`${apps} apps: mirrors and runtime`);
            return await atScale(ctx, await setUpSize(gh, upstream, apps), target, tearDowns);
          })(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not finish within ${limitMs / 1000} s`)), limitMs);
          }),
        ]);
      } catch (err) {
        return [
          {
            scenario: 'list-scale',
            figure: `first list after start, ${apps} apps`,
            unit: 'ms',
            value: null,
            baseline: null,
            ratio: null,
            target: `≤ ${target} ms`,
            pass: false,
            notes: `did not complete: ${(err as Error).message.split('\n')[0]}`,
          },
        ];
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      const figures: Figure[] = [];
      for (const { apps, target } of sizes) {
        figures.push(...(await guarded(apps, target)));
        // a size's tear-down is done before the next size measures
        while (tearDowns.length > 0) await tearDowns.shift()!();
      }
      return figures;
    } finally {
      ctx.afterward(async () => {
        for (const tearDown of tearDowns) await tearDown();
        await gh.close();
      });
    }
  },
};
