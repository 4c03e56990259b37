/**
 * The web board on `serve` (the sandbox, open board): the matrix page `GET /` at concurrency 4,
 * against the same data asked as the `list` command through `POST /api/run` in the same run; and
 * the live feed's latency, from the answer of a command that wrote an audit line to the `change`
 * event on an open `/events` stream (the feed looks at the store once a second). The baseline
 * fetches the Git mirrors on every call (a CLI source); the page accepts a mirror fetched within
 * 5 s, as Slack does — the figure shows what that freshness window buys under live refresh.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startServer } from '../../src/server/serve.js';
import { pgliteStartParams } from '../../src/store/pglite-db.js';
import { copySandbox } from '../../test/support/runtime.js';
import { figure, type Scenario } from '../lib/figure.js';
import { max, percentile } from '../lib/stats.js';
import { benchStore, silentLogger } from '../lib/workspace.js';

const NAME = 'board';

async function throughput(total: number, concurrency: number, one: () => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        await one();
      }
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

export const board: Scenario = {
  name: NAME,
  title: 'the board matrix page against `list` over /api/run; live feed latency',
  timeoutMs: (quick) => (quick ? 120_000 : 600_000),
  setUpBesideTearDown: true,
  async run(ctx) {
    const root = mkdtempSync(join(tmpdir(), 'conveyor-bench-board-'));
    const remove = async () => rmSync(root, { recursive: true, force: true });
    let removal = remove; // the folder goes once the server (when it started) has stopped
    try {
      // a fresh sandbox for serve's folder: a copy of the run's (what ensureSandbox would make)
      const sandbox = await copySandbox(root);
      const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, unknown>;
      raw.state = { url: 'pglite:memory' };
      writeFileSync(sandbox.configFile, stringify(raw));
      const server = await startServer({
        cwd: root,
        port: 0,
        host: '127.0.0.1',
        out: () => {},
        log: await silentLogger(),
        env: {},
        // serve's own in-memory PGlite (its settings), loaded from the run's seed, not initialised here
        compose: { state: await benchStore(pgliteStartParams()) },
      });
      removal = () => server.stop().finally(remove);
      const base = `http://127.0.0.1:${server.port}`;
      const token = (JSON.parse(readFileSync(join(sandbox.dir, 'serve.json'), 'utf8')) as { token: string }).token;
      const run = async (text: string) => {
        const res = await fetch(`${base}/api/run`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ text, user: 'U_DEMO' }),
        });
        if (res.status !== 200) throw new Error(`/api/run answered ${res.status}`);
        await res.arrayBuffer();
      };
      const page = async () => {
        const res = await fetch(`${base}/`);
        if (res.status !== 200) throw new Error(`/ answered ${res.status}`);
        await res.arrayBuffer();
      };
      await ctx.quiet(); // the earlier scenarios' tear-downs are done before anything is asked
      const total = ctx.quick ? 40 : 300;
      ctx.log(`board: ${total} matrix pages and ${total} list commands at concurrency 4`);
      await page();
      await run('list');
      const listRate = await throughput(total, 4, () => run('list'));
      const pageRate = await throughput(total, 4, page);

      const rounds = ctx.quick ? 3 : 20;
      ctx.log(`board: ${rounds} changes watched on /events`);
      const ac = new AbortController();
      const events = await fetch(`${base}/events`, { signal: ac.signal });
      const reader = events.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      const nextChange = async (): Promise<number> => {
        for (;;) {
          const at = buffer.indexOf('event: change');
          if (at >= 0) {
            buffer = buffer.slice(buffer.indexOf('\n\n', at) + 2);
            return performance.now();
          }
          const { value, done } = await reader.read();
          if (done) throw new Error('the event stream ended');
          buffer += decoder.decode(value, { stream: true });
        }
      };
      const latencies: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const waiting = nextChange();
        await run(i % 2 ? 'unlock web qa' : 'lock web qa bench');
        const answered = performance.now();
        latencies.push((await waiting) - answered);
        buffer = '';
      }
      ac.abort();
      return [
        figure({
          scenario: NAME,
          figure: 'matrix page GET / per second (concurrency 4)',
          unit: '/s',
          value: pageRate,
          baseline: listRate,
          check: { kind: 'ratio-min', min: 0.7 },
          notes: `${total} each; baseline: the list command over POST /api/run, which fetches the mirrors each time (a CLI source); the board, like Slack, takes a mirror fetched within 5 s`,
        }),
        figure({
          scenario: NAME,
          figure: 'live: command answered → change event, p50',
          unit: 'ms',
          value: percentile(latencies, 50),
          check: { kind: 'max', max: 1500 },
          notes: `${rounds} changes, each just after the previous event (so near the worst case of the one-second poll)`,
        }),
        figure({
          scenario: NAME,
          figure: 'live: command answered → change event, max',
          unit: 'ms',
          value: max(latencies),
          check: { kind: 'max', max: 3000 },
        }),
      ];
    } finally {
      ctx.afterward(removal);
    }
  },
};
