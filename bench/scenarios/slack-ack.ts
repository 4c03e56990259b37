/**
 * Slack ack: signed slash commands (`help`, `list`, `promote api qa --dry-run` in turn) at
 * concurrency 10 and 50 against `conveyor serve` (the real server, its Bolt app on
 * /slack/events, the fake Slack Web API), and against a bare Bolt HTTPReceiver app that only
 * acks, in the same run. The load generator runs in its own process (lib/load-child.ts), so
 * it never shares the server's event loop. Measured: acks per second and ack latency (p50,
 * p99, max) per concurrency, and replies delivered per second: every command's answer posted
 * to its own response_url, from the first request until the last answer arrived.
 */

import { fileURLToPath } from 'node:url';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { startServer } from '../../src/server/serve.js';
import { SlackFake } from '../../test/support/slack-fake.js';
import { type Figure, figure, type Scenario } from '../lib/figure.js';
import type { LoadResult } from '../lib/load.js';
import type { LoadChildInput } from '../lib/load-child.js';
import { childEnv, spawnChild, tsxArgs } from '../lib/proc.js';
import { max, percentile, sleep } from '../lib/stats.js';
import { benchStore, makeWorkspace, silentLogger } from '../lib/workspace.js';

const SECRET = 'bench-signing-secret';
const TEXTS = ['help', 'list', 'promote api qa --dry-run'];
const LOAD_CHILD = fileURLToPath(new URL('../lib/load-child.ts', import.meta.url));

type ChildLoad = LoadResult & { startedAt: number; endedAt: number };

/** One load run from its own process. */
async function loadFromChild(input: Omit<LoadChildInput, 'secret' | 'user'>): Promise<ChildLoad> {
  const child = spawnChild(
    process.execPath,
    tsxArgs(LOAD_CHILD, JSON.stringify({ ...input, secret: SECRET, user: 'U_DEMO' })),
    { env: childEnv() },
  );
  const line = await child.waitForLine(/^\{.*\}$/, 600_000);
  await child.exited;
  return JSON.parse(line[0]) as ChildLoad;
}

/** The baseline: Bolt's HTTPReceiver and one listener that acks, nothing else. */
async function startBareBolt(fake: SlackFake): Promise<{ port: number; stop(): Promise<void> }> {
  const receiver = new HTTPReceiver({ signingSecret: SECRET, endpoints: '/slack/events', logLevel: LogLevel.ERROR });
  const app = new App({
    receiver,
    token: fake.token,
    botId: fake.botId,
    botUserId: fake.botUserId,
    tokenVerificationEnabled: false,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: fake.apiUrl },
  });
  app.command('/conveyor', async ({ ack }) => {
    await ack();
  });
  const server = await receiver.start({ port: 0, host: '127.0.0.1' });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stop: async () => {
      await app.stop();
    },
  };
}

export const slackAck: Scenario = {
  name: 'slack-ack',
  title: 'signed slash commands acked at concurrency 10 and 50, replies delivered',
  timeoutMs: (quick) => (quick ? 180_000 : 900_000),
  async run(ctx) {
    const total = ctx.quick ? 120 : 3000;
    const warmup = ctx.quick ? 15 : 300;
    ctx.log('starting the fake Slack, bare Bolt and conveyor serve');
    const fake = await SlackFake.start();
    const [ws, store, log] = await Promise.all([makeWorkspace('slack'), benchStore(), silentLogger()]);
    const bare = await startBareBolt(fake);
    const server = await startServer({
      cwd: ws.root,
      configFile: ws.configFile,
      port: 0,
      host: '127.0.0.1',
      out: () => {},
      log,
      env: { SLACK_BOT_TOKEN: fake.token, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl },
      compose: { state: store },
    });
    let run = 0;
    /** Commands serve answered "busy" in their ack so far (conveyor_slack_busy_total). */
    const busyAcks = async () => ((await server.runtime.metrics.slackBusy.get()).values[0]?.value ?? 0) as number;
    /**
     * Commands of one run answered so far: `help` answers on its own response_url (counted once
     * per command), `list` and `promote --dry-run` post to the channel (chat.postMessage or
     * chat.postEphemeral calls since the run began; the sandbox posts nothing else meanwhile).
     */
    const answered = (prefix: string, callsMark: number) =>
      new Set(fake.responses.filter((r) => r.id.startsWith(`${prefix}-`)).map((r) => r.id)).size +
      fake.calls
        .slice(callsMark)
        .filter((c) => (c.method === 'chat.postMessage' || c.method === 'chat.postEphemeral') && c.outcome === 'ok')
        .length;
    const busy = (prefix: string, callsMark: number) =>
      fake.responses.filter((r) => r.id.startsWith(`${prefix}-`) && /busy|try again/i.test(JSON.stringify(r.body)))
        .length + fake.calls.slice(callsMark).filter((c) => /busy|try again/i.test(JSON.stringify(c.args))).length;
    /** A run against Conveyor, then until every acked command is answered (or 120 s pass). */
    const against = async (port: number, n: number, concurrency: number, waitReplies: boolean) => {
      const prefix = `bench${++run}`;
      const mark = fake.calls.length;
      const busyBefore = await busyAcks();
      const load = await loadFromChild({
        port,
        total: n,
        concurrency,
        responseUrl: fake.responseUrl(prefix),
        texts: TEXTS,
      });
      // Past the work queue's bound (slack.maxQueued) a command is answered "busy" in its ack
      // and not taken: those have had their answer already (counted by serve's metric).
      const busyInAck = port === bare.port ? 0 : (await busyAcks()) - busyBefore;
      const acked = load.latencies.length - busyInAck;
      let lastAt = load.endedAt;
      if (waitReplies) {
        const deadline = Date.now() + 120_000;
        let seen = answered(prefix, mark);
        while (seen < acked && Date.now() < deadline) {
          await sleep(20);
          const now = answered(prefix, mark);
          if (now !== seen) lastAt = Date.now();
          seen = now;
        }
      }
      const replies = Math.min(answered(prefix, mark), acked);
      const methods = new Map<string, number>();
      for (const c of fake.calls.slice(mark))
        methods.set(`${c.method} ${c.outcome}`, (methods.get(`${c.method} ${c.outcome}`) ?? 0) + 1);
      const calls = [...methods].map(([m, n]) => `${m} ×${n}`).join(', ');
      return {
        load,
        replies,
        busy: busy(prefix, mark),
        busyInAck,
        repliesMs: Math.max(1, lastAt - load.startedAt),
        calls,
      };
    };
    try {
      ctx.log('servers up; warm-up');
      await against(bare.port, warmup, 10, false);
      await against(server.port, warmup, 10, true);
      const figures: Figure[] = [];
      for (const concurrency of [10, 50]) {
        ctx.log(`concurrency ${concurrency}: ${total} commands each (bare Bolt, then Conveyor)`);
        const b = await against(bare.port, total, concurrency, false);
        const o = await against(server.port, total, concurrency, true);
        const size = `${total} signed commands per side (help, list, promote api qa --dry-run in turn), concurrency ${concurrency}, load from its own process${ctx.quick ? ' (quick size)' : ''}`;
        const errorsNote = o.load.errors > 0 ? `; ${o.load.errors} not acked (${o.load.errorSamples.join(', ')})` : '';
        figures.push(
          figure({
            scenario: 'slack-ack',
            figure: `acks per second, c=${concurrency}`,
            unit: '/s',
            value: o.load.throughput,
            baseline: b.load.throughput,
            check: { kind: 'ratio-min', min: 0.7 },
            notes: `${size}; each ack follows the command's write to the durable inbox (in-memory PGlite)${errorsNote}`,
          }),
          figure({
            scenario: 'slack-ack',
            figure: `ack latency p99, c=${concurrency}`,
            unit: 'ms',
            value: percentile(o.load.latencies, 99),
            baseline: percentile(b.load.latencies, 99),
            check: { kind: 'max', max: 100 },
            notes: `p50 ${percentile(o.load.latencies, 50).toFixed(1)} ms (bare Bolt ${percentile(b.load.latencies, 50).toFixed(1)} ms); slowest ${Math.round(max(o.load.latencies))} ms (bare Bolt ${Math.round(max(b.load.latencies))} ms)`,
          }),
          figure({
            scenario: 'slack-ack',
            figure: `replies delivered per second, c=${concurrency}`,
            unit: '/s',
            value: o.replies / (o.repliesMs / 1000),
            baseline: b.load.throughput,
            check: { kind: 'report' },
            notes:
              `${o.replies} of ${o.load.latencies.length - o.busyInAck} commands taken answered (help on its response_url, the others in the channel); ` +
              `${o.busyInAck} more were answered "busy" in their ack (the work queue's bound), ` +
              `${(o.repliesMs / 1000).toFixed(1)} s from the first request to the last answer ` +
              `(the load itself took ${((o.load.endedAt - o.load.startedAt) / 1000).toFixed(1)} s); ${o.busy} of the answers said busy; ` +
              `Slack API calls meanwhile: ${o.calls || 'none'}; baseline: bare Bolt acks per second (it answers nothing)`,
          }),
          figure({
            scenario: 'slack-ack',
            figure: `acks over 3 s (or missing), c=${concurrency}`,
            unit: 'requests',
            value: o.load.latencies.filter((l) => l > 3000).length + o.load.errors,
            baseline: b.load.latencies.filter((l) => l > 3000).length + b.load.errors,
            check: { kind: 'equals', value: 0 },
            notes: 'Slack shows an error to the user after 3 s',
          }),
        );
      }
      return figures;
    } finally {
      await server.stop();
      await bare.stop();
      await fake.close();
      ws.remove();
    }
  },
};
