/**
 * `list` at scale: apps × 4 environments on the GitHub fake, warm (mirrors exist, nothing
 * changed upstream), asked from Slack, with the controller running as `serve` runs it: its
 * repository poller has seen every repository agree with its mirror, so `list` reads the
 * mirrors (one `git for-each-ref` per app) without fetching them.
 * Baseline: what a naive bot does, one `GET /repos/{o}/{r}/branches/{b}` per app×environment
 * through Octokit, at the same concurrency `list` uses (8).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOctokit } from '../../src/adapters/github.js';
import { mapLimit } from '../../src/core/env-state.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import { HttpServer } from '../../src/server/http-server.js';
import { pino } from 'pino';
import { startGitHubFake } from '../../test/support/github-fake.js';
import { makeRuntime } from '../../test/support/runtime.js';
import { figure, type Scenario } from '../lib/figure.js';
import { seedScaledRepos } from '../lib/github-scale.js';
import { median, timed } from '../lib/stats.js';

const OWNER = 'acme';
const TOKEN = 'ghs_BENCHTOKEN0123456789';

export const listAtScale: Scenario = {
  name: 'list-scale',
  title: '`list` over apps × 4 environments, warm',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  async run(ctx) {
    const apps = ctx.quick ? 10 : 200;
    const runs = ctx.quick ? 1 : 3;
    const gh = await startGitHubFake({ token: TOKEN, rateLimit: 1_000_000 });
    const tmp = await mkdtemp(join(tmpdir(), 'conveyor-bench-list-'));
    const octokit = createOctokit({ token: TOKEN, baseUrl: gh.url, throttle: false, retries: 0 });
    let t: Awaited<ReturnType<typeof makeRuntime>> | undefined;
    let controller: RunningController | undefined;
    const http = new HttpServer(pino({ level: 'silent' }));
    try {
      ctx.log(`seeding ${apps} repositories`);
      const scaled = await seedScaledRepos({ fake: gh, octokit, owner: OWNER, count: apps, dir: tmp });
      t = await makeRuntime({
        edit: (c) => {
          c.apps = scaled.names.map((name) => ({ name, repo: `${OWNER}/${name}` }));
        },
        extra: { gitHosts: scaled.hosts },
      });
      const envs = t.config.environments;
      await http.listen(0, '127.0.0.1');
      controller = await startController({ runtime: t.runtime, http, secrets: {}, log: pino({ level: 'silent' }), kubeConfigs: {} });
      ctx.log(`controller: first poll of ${apps} repositories`);
      await controller.pollNow(); // conditional GETs; the next pass is due in git.pollInterval (60 s)
      const dispatcher = new Dispatcher(t.runtime);
      const list = async () => {
        const reply = await dispatcher.execute({ text: 'list', user: 'U_DEMO', source: 'slack', channel: 'C0BENCH01' });
        const rows = (reply.data as { rows?: unknown[] } | undefined)?.rows?.length ?? 0;
        if (reply.status !== 'ok' || rows !== apps * envs.length) {
          throw new Error(`list answered ${reply.status} with ${rows} rows: ${reply.title}`);
        }
      };
      ctx.log('warm-up list');
      const warm = await timed(list);
      gh.resetCounters();
      scaled.counter.syncs = 0;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push((await timed(list)).ms);
      const apiCalls = gh.calls.total;
      const fetched = scaled.counter.syncs;
      await controller.stop(); // its next poll must not land in the baseline's count
      controller = undefined;

      ctx.log(`naive baseline: ${apps * envs.length} branch reads through Octokit`);
      gh.resetCounters();
      const pairs = scaled.names.flatMap((repo) => envs.map((e) => ({ repo, branch: e.branch })));
      const naive = await timed(() =>
        mapLimit(pairs, 8, (p) => octokit.rest.repos.getBranch({ owner: OWNER, repo: p.repo, branch: p.branch })),
      );
      const naiveCalls = gh.calls.total;
      const size = `${apps} apps × ${envs.length} environments${ctx.quick ? ' (quick size; full run: 200 apps)' : ''}`;
      return [
        figure({
          scenario: 'list-scale',
          figure: 'list reply time, warm',
          unit: 'ms',
          value: median(times),
          baseline: naive.ms,
          check: { kind: 'max', max: 1000, inclusive: true },
          notes:
            `${size}; median of ${runs} Slack-sourced list(s) after a warm-up list (${Math.round(warm.ms)} ms); ` +
            `${fetched} mirror fetch(es) during the measured list(s) (the controller's poller vouches for the mirrors); ` +
            `baseline: ${naiveCalls} GET branches via Octokit, 8 at a time, answered by the fake from its Git repositories`,
        }),
        figure({
          scenario: 'list-scale',
          figure: 'GitHub API calls, warm list',
          unit: 'calls',
          value: apiCalls / runs,
          baseline: naiveCalls,
          check: { kind: 'equals', value: 0 },
          notes: `${size}; counted by the GitHub fake (REST only; Git fetches of the mirrors are not API calls)`,
        }),
      ];
    } finally {
      await controller?.stop();
      await http.close();
      await t?.close();
      await gh.close();
      await rm(tmp, { recursive: true, force: true });
    }
  },
};
