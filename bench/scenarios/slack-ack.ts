/**
 * Slack ack: signed slash commands (`help`, `list`, `promote api qa --dry-run` in turn) at
 * concurrency 10 and 50 against `conveyor serve` (the real server, its Bolt app on
 * /slack/events, the fake Slack Web API), and against a bare Bolt HTTPReceiver app that only
 * acks, in the same run. The load generator, Conveyor and bare Bolt each run in a process of
 * their own (lib/load-child.ts, lib/slack-server-child.ts), and the fake Slack with the
 * counting in the scenario's: no server measured shares its event loop with anything else. Each
 * load run has a generator process of its own, started with the servers (loaded, then idle until
 * its run sends it its input), so that no run waits for one to start. Measured: acks per second and ack latency (p50,
 * p99, max) per concurrency, and replies delivered per second: every command's answer posted
 * to its own response_url, from the first request until the last answer arrived.
 */

import { fileURLToPath } from 'node:url';
import { SlackFake } from '../../test/support/slack-fake.js';
import { type Figure, figure, type Scenario } from '../lib/figure.js';
import type { LoadResult } from '../lib/load.js';
import type { LoadChildInput } from '../lib/load-child.js';
import { type Child, childEnv, spawnChild, tsxArgs } from '../lib/proc.js';
import type { SlackServerChildInput } from '../lib/slack-server-child.js';
import { max, percentile, sleep } from '../lib/stats.js';

const SECRET = 'bench-signing-secret';
const TEXTS = ['help', 'list', 'promote api qa --dry-run'];
const LOAD_CHILD = fileURLToPath(new URL('../lib/load-child.ts', import.meta.url));
const SERVER_CHILD = fileURLToPath(new URL('../lib/slack-server-child.ts', import.meta.url));
const BUSY = /busy|try again/i;

type ChildLoad = LoadResult & { startedAt: number; endedAt: number };

/** Load runs per scenario: a warm-up against each server, then each side at each concurrency. */
const LOAD_RUNS = 2 + 2 * 2;

/** A load generator's process started ahead: loaded, then idle until its input comes on stdin. */
async function startLoadChild(): Promise<Child> {
  const child = spawnChild(process.execPath, tsxArgs(LOAD_CHILD), {
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    await child.waitForLine(/^ready$/, 120_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return child;
}

/** One load run from its own process: one started ahead (`ready`), else one started now. */
async function loadFromChild(input: Omit<LoadChildInput, 'secret' | 'user'>, ready?: Child): Promise<ChildLoad> {
  const json = JSON.stringify({ ...input, secret: SECRET, user: 'U_DEMO' });
  let child: Child;
  if (ready) {
    child = ready;
    child.proc.stdin?.end(`${json}\n`);
  } else {
    child = spawnChild(process.execPath, tsxArgs(LOAD_CHILD, json), { env: childEnv() });
  }
  const line = await child.waitForLine(/^\{.*\}$/, 600_000);
  await child.exited;
  return JSON.parse(line[0]) as ChildLoad;
}

/** A Slack server (Conveyor or the bare Bolt baseline) in its own process. */
async function startServerChild(kind: SlackServerChildInput['kind'], fake: SlackFake) {
  const input: SlackServerChildInput = {
    kind,
    secret: SECRET,
    apiUrl: fake.apiUrl,
    token: fake.token,
    botId: fake.botId,
    botUserId: fake.botUserId,
  };
  const child = spawnChild(process.execPath, tsxArgs(SERVER_CHILD, JSON.stringify(input)), { env: childEnv() });
  const line = await child.waitForLine(/^\{"port":(\d+)\}$/, 120_000);
  return { port: Number(line[1]), stop: () => child.stop(15_000) };
}

/** Conveyor's `conveyor_slack_busy_total`, read from its /metrics. */
async function busyTotal(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^conveyor_slack_busy_total (\S+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * Answers of one run seen by the fake so far, counted as they arrive (a scan of only what is
 * new each time): `help` answers on its own response_url (once per command), `list` and
 * `promote --dry-run` post to the channel (chat.postMessage or chat.postEphemeral; the sandbox
 * posts nothing else meanwhile).
 */
class Answers {
  private responsesSeen: number;
  private callsSeen: number;
  private readonly ids = new Set<string>();
  private posts = 0;
  busy = 0;
  readonly methods = new Map<string, number>();

  constructor(
    private readonly fake: SlackFake,
    private readonly prefix: string,
  ) {
    this.responsesSeen = fake.responses.length;
    this.callsSeen = fake.calls.length;
  }

  count(): number {
    const { responses, calls } = this.fake;
    for (; this.responsesSeen < responses.length; this.responsesSeen++) {
      const r = responses[this.responsesSeen]!;
      if (!r.id.startsWith(`${this.prefix}-`) || this.ids.has(r.id)) continue;
      this.ids.add(r.id);
      if (BUSY.test(JSON.stringify(r.body))) this.busy++;
    }
    for (; this.callsSeen < calls.length; this.callsSeen++) {
      const c = calls[this.callsSeen]!;
      const key = `${c.method} ${c.outcome}`;
      this.methods.set(key, (this.methods.get(key) ?? 0) + 1);
      if ((c.method === 'chat.postMessage' || c.method === 'chat.postEphemeral') && c.outcome === 'ok') {
        this.posts++;
        if (BUSY.test(JSON.stringify(c.args))) this.busy++;
      }
    }
    return this.ids.size + this.posts;
  }
}

interface SlackServers {
  fake: SlackFake;
  bare: { port: number; stop(): Promise<void> };
  server: { port: number; stop(): Promise<void> };
  /** The load generators of the runs, started ahead, one per run (each used once). */
  loaders: Child[];
  stop(): Promise<void>;
}

/**
 * The fake Slack, then bare Bolt and conveyor serve, each in its own process, and the load
 * generators' processes, loaded and idle until their run (measures nothing).
 */
async function startServers(): Promise<SlackServers> {
  const fake = await SlackFake.start();
  const [servers, loaders] = await Promise.all([
    Promise.allSettled([startServerChild('bare', fake), startServerChild('conveyor', fake)]),
    Promise.allSettled(Array.from({ length: LOAD_RUNS }, startLoadChild)),
  ]);
  const [bare, server] = servers;
  const failed = [...servers, ...loaders].find((s) => s.status === 'rejected');
  if (failed || bare.status === 'rejected' || server.status === 'rejected') {
    await Promise.all([...servers, ...loaders].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    await fake.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  const ready = loaders.map((l) => (l as PromiseFulfilledResult<Child>).value);
  return {
    fake,
    bare: bare.value,
    server: server.value,
    loaders: [...ready],
    async stop() {
      await Promise.all([server.value.stop(), bare.value.stop(), ...ready.map((l) => l.stop())]);
      await fake.close();
    },
  };
}

export const slackAck: Scenario = {
  name: 'slack-ack',
  title: 'signed slash commands acked at concurrency 10 and 50, replies delivered',
  timeoutMs: (quick) => (quick ? 180_000 : 900_000),
  prepare: () => startServers(),
  async run(ctx, prepared) {
    const total = ctx.quick ? 120 : 3000;
    const warmup = ctx.quick ? 15 : 300;
    ctx.log(
      prepared
        ? 'the fake Slack, bare Bolt and conveyor serve (each in its own process) and the load generators were started while the bench loaded'
        : 'starting the fake Slack, then bare Bolt and conveyor serve, each in its own process, and the load generators',
    );
    const servers = (await (prepared ?? startServers())) as SlackServers;
    const { fake, bare, server } = servers;
    let run = 0;
    /** A run against Conveyor, then until every acked command is answered (or 120 s pass). */
    const against = async (port: number, n: number, concurrency: number, waitReplies: boolean) => {
      const prefix = `bench${++run}`;
      const answers = new Answers(fake, prefix);
      const isBare = port === bare.port;
      const busyBefore = isBare ? 0 : await busyTotal(port);
      const load = await loadFromChild(
        { port, total: n, concurrency, responseUrl: fake.responseUrl(prefix), texts: TEXTS },
        servers.loaders.shift(),
      );
      // Past the work queue's bound (slack.maxQueued) a command is answered "busy" in its ack
      // and not taken: those have had their answer already (counted by serve's metric).
      const busyInAck = isBare ? 0 : (await busyTotal(port)) - busyBefore;
      const acked = load.latencies.length - busyInAck;
      let lastAt = load.endedAt;
      if (waitReplies) {
        const deadline = Date.now() + 120_000;
        let seen = answers.count();
        while (seen < acked && Date.now() < deadline) {
          await sleep(20);
          const now = answers.count();
          if (now !== seen) lastAt = Date.now();
          seen = now;
        }
      }
      const replies = Math.min(answers.count(), acked);
      const calls = [...answers.methods].map(([m, n]) => `${m} ×${n}`).join(', ');
      return {
        load,
        replies,
        busy: answers.busy,
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
            notes: `${size}; serve on a PGlite folder (its default): each ack follows the command's line in the accept log beside it, its inbox row is written when its work runs${errorsNote}`,
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
      ctx.afterward(() => servers.stop()); // beside the next scenario's set-up, before its measurement
    }
  },
};
