/**
 * Slack ack: signed slash commands at concurrency 50 against `conveyor serve` (the real server,
 * its Bolt app on /slack/events, the fake Slack Web API), and against a bare Bolt
 * HTTPReceiver app that only acks, driven by the same load generator in the same run.
 * Measured: acks per second and ack latency (p50, p99, max). Each of Conveyor's acks comes
 * after its command was written to the durable inbox (src/store/inbox-store.ts; here the
 * store is an in-memory PGlite, so the figure leaves out the filesystem write of a folder).
 */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { startServer } from '../../src/server/serve.js';
import { signSlackRequest } from '../../test/support/slack-driver.js';
import { SlackFake } from '../../test/support/slack-fake.js';
import { figure, type Figure, type Scenario } from '../lib/figure.js';
import { type LoadResult, runLoad } from '../lib/load.js';
import { max, percentile, waitUntil } from '../lib/stats.js';
import { benchStore, makeWorkspace, silentLogger } from '../lib/workspace.js';

const SECRET = 'bench-signing-secret';
const CONCURRENCY = 50;
const COMMAND_TEXT = 'help';

let seq = 0;
function slashCommand(responseUrl: string) {
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0000001',
    team_domain: 'bench',
    channel_id: 'C0BENCH01',
    channel_name: 'deploys',
    user_id: 'U_DEMO',
    user_name: 'demo',
    command: '/conveyor',
    text: COMMAND_TEXT,
    api_app_id: 'A0CONVEYOR',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: `tr.bench.${process.pid}.${++seq}`,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return {
    path: '/slack/events',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-signature': signSlackRequest(SECRET, ts, body),
      'x-slack-request-timestamp': String(ts),
    },
  };
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
  title: 'signed slash commands acked at concurrency 50',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  async run(ctx) {
    const total = ctx.quick ? 500 : 5000;
    const warmup = ctx.quick ? 50 : 300;
    const rounds = ctx.quick ? 1 : 2;
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
      compose: { store },
    });
    try {
      const responseUrl = fake.responseUrl('bench');
      const load = (port: number, n: number) =>
        runLoad({ port, total: n, concurrency: CONCURRENCY, make: () => slashCommand(responseUrl) });
      /** Conveyor answers each command after the ack: wait until it has, so rounds do not overlap. */
      const drain = async (expected: number) => {
        const t0 = performance.now();
        await waitUntil('replies to every command', () => fake.responses.length >= expected, 120_000, 20);
        return performance.now() - t0;
      };
      let expectedReplies = 0;
      ctx.log('servers up; warm-up');
      await load(bare.port, warmup);
      await load(server.port, warmup);
      expectedReplies += warmup;
      await drain(expectedReplies);
      const base: LoadResult[] = [];
      const ours: LoadResult[] = [];
      let drainMs = 0;
      for (let r = 0; r < rounds; r++) {
        ctx.log(`round ${r + 1}/${rounds}: ${total} commands each`);
        base.push(await load(bare.port, total));
        ours.push(await load(server.port, total));
        expectedReplies += total - ours.at(-1)!.errors;
        drainMs += await drain(expectedReplies);
      }
      const merge = (rs: LoadResult[]) => {
        const latencies = rs.flatMap((r) => r.latencies);
        const elapsed = rs.reduce((s, r) => s + r.elapsedMs, 0);
        const errors = rs.reduce((s, r) => s + r.errors, 0);
        return { latencies, errors, throughput: latencies.length / (elapsed / 1000), samples: rs.flatMap((r) => r.errorSamples) };
      };
      const b = merge(base);
      const o = merge(ours);
      const size = `${rounds}×${total} signed \`/conveyor ${COMMAND_TEXT}\` per side, concurrency ${CONCURRENCY}${ctx.quick ? ' (quick size)' : ''}`;
      const errorsNote = o.errors > 0 ? `; ${o.errors} not acked (${o.samples.join(', ')})` : '';
      const figures: Figure[] = [
        figure({
          scenario: 'slack-ack',
          figure: 'acks per second',
          unit: '/s',
          value: o.throughput,
          baseline: b.throughput,
          check: { kind: 'ratio-min', min: 0.7 },
          notes: `${size}; each ack follows the command's write to the durable inbox (in-memory PGlite, accepts of a burst written together); after it Conveyor runs the command and answers through response_url (${Math.round(drainMs)} ms to finish those after the load)${errorsNote}`,
        }),
        figure({
          scenario: 'slack-ack',
          figure: 'ack latency p99',
          unit: 'ms',
          value: percentile(o.latencies, 99),
          baseline: percentile(b.latencies, 99),
          check: { kind: 'max', max: 100 },
          notes: `p50 ${percentile(o.latencies, 50).toFixed(1)} ms (bare Bolt ${percentile(b.latencies, 50).toFixed(1)} ms)`,
        }),
        figure({
          scenario: 'slack-ack',
          figure: 'acks over 3 s (or missing)',
          unit: 'requests',
          value: o.latencies.filter((l) => l > 3000).length + o.errors,
          baseline: b.latencies.filter((l) => l > 3000).length + b.errors,
          check: { kind: 'equals', value: 0 },
          notes: `slowest ack ${Math.round(max(o.latencies))} ms (bare Bolt ${Math.round(max(b.latencies))} ms); Slack shows an error to the user after 3 s`,
        }),
      ];
      return figures;
    } finally {
      await server.stop();
      await bare.stop();
      await fake.close();
      ws.remove();
    }
  },
};
