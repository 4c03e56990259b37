/**
 * The durable inbox under SIGKILL: a real `conveyor serve` child (PGlite state in a folder,
 * Slack pointed at the fake) takes bursts of signed slash commands and is SIGKILLed at a
 * random moment of each burst, then started again on the same state. Every command that was
 * acked (HTTP 200) must, once the last start has swept the inbox, have produced exactly one
 * reply as its user sees it (through its response_url or in its channel) and exactly one
 * command-log entry. A kill inside the Web API call (Slack may have the reply, the process
 * never heard) is resumed without a second copy: through the response_url with
 * `replace_original`, in a channel by finding the earlier post's metadata first.
 * Commands that were never acked may be lost: Slack told their user it failed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { copySandbox } from '../support/runtime.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';
import { family, printFamilies, seededRandom, seedFor } from './support/summary.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const SECRET = 'inbox-kill-signing-secret';
const ROUNDS = Number(process.env.HOSTILE_INBOX_ROUNDS ?? 5);
const TEXTS = [
  'help',
  'list api',
  'history',
  'promote api qa --dry-run',
  'help promote',
  'diff development qa api',
  'promote web qa',
];

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

interface Sent {
  n: number;
  text: string;
  trigger: string;
  acked: boolean;
}

describe('the durable inbox under SIGKILL', () => {
  let fake: SlackFake;
  let root: string;
  let configFile: string;
  let stateDir: string;
  let port: number;
  let child: ChildProcess | null = null;
  const sent: Sent[] = [];
  const fam = family('acked Slack commands across SIGKILLs');

  beforeAll(async () => {
    fake = await SlackFake.start();
    root = mkdtempSync(join(tmpdir(), 'conveyor-inbox-kill-'));
    const sandbox = await copySandbox(root);
    const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, unknown>;
    stateDir = join(sandbox.dir, 'inbox-state');
    raw.state = { url: `pglite:${stateDir}` };
    configFile = join(sandbox.dir, 'inbox-kill.yaml');
    writeFileSync(configFile, stringify(raw));
    port = await freePort();
  }, 120_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await fake?.close();
    rmSync(root, { recursive: true, force: true });
    printFamilies();
  });

  async function start(): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SLACK_BOT_TOKEN: fake.token,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: fake.apiUrl,
      LOG_LEVEL: 'silent',
    };
    child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { cwd: root, env, stdio: 'ignore' });
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('serve did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function kill(): Promise<void> {
    const proc = child!;
    child = null;
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /**
   * Replies as the user sees them (a response_url message replaced by a later one counts once;
   * the lines an operation's transitions add in its message's thread are not replies).
   */
  const replies = (s: Sent) =>
    fake.visibleResponses(`k${s.n}`).length +
    fake.messagesIn(`CK${s.n}`).filter((m) => !m.threadTs).length +
    fake.ephemerals.filter((e) => e.channel === `CK${s.n}`).length;
  /** Posts Slack took for it, replaced or not: more than one means a kill landed mid-delivery. */
  const posts = (s: Sent) =>
    fake.responses.filter((r) => r.id === `k${s.n}`).length +
    fake
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === `CK${s.n}` && !c.args.thread_ts && c.outcome === 'ok').length;

  it(`${ROUNDS} rounds of commands, SIGKILL after a random number of acks in each: every acked command answered once and logged once`, async () => {
    const rnd = seededRandom(seedFor('inbox SIGKILL'));
    const driver = new SlackDriver({ url: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET });
    for (let round = 0; round < ROUNDS; round++) {
      await start();
      // Kill after a random number of this round's acks, a random moment later: wherever the
      // acked commands are (queued, running, replying) when it lands.
      const target = 10 + Math.floor(rnd() * 10);
      let ackedThisRound = 0;
      let killed = false;
      let killing: Promise<void> | null = null;
      const lanes = Array.from({ length: 6 }, async () => {
        while (!killed) {
          const s: Sent = {
            n: sent.length,
            text: TEXTS[Math.floor(rnd() * TEXTS.length)]!,
            trigger: `tr.kill.${round}.${sent.length}.${Date.now()}`,
            acked: false,
          };
          sent.push(s);
          const res = await driver
            .slashCommand({
              text: s.text,
              user: 'U_DEMO',
              channel: `CK${s.n}`,
              triggerId: s.trigger,
              responseUrl: fake.responseUrl(`k${s.n}`),
            })
            .catch(() => ({ status: 0 }));
          s.acked = res.status === 200;
          if (s.acked && ++ackedThisRound >= target && !killing) {
            killing = new Promise<void>((r) => setTimeout(r, Math.floor(rnd() * 150))).then(async () => {
              killed = true;
              await kill();
            });
          }
          if (!s.acked && !killed) await new Promise((r) => setTimeout(r, 20));
        }
      });
      await Promise.all(lanes);
      await killing;
    }
    const acked = sent.filter((s) => s.acked);
    console.log(
      `[hostile] inbox SIGKILL: ${sent.length} sent, ${acked.length} acked before their serve was killed or while it lived`,
    );
    // The last start sweeps what every killed serve accepted.
    await start();
    const deadline = Date.now() + 120_000;
    while (acked.some((s) => replies(s) === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1_000)); // a late duplicate would show here
    const proc = child!;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    child = null;
    expect(existsSync(`${stateDir}.slack-deliveries`)).toBe(true); // the delivery log beside the store
    const pg = new PGlite(stateDir);
    const logged = new Map<string, number>();
    for (const row of (
      await pg.query<{ request_key: string; n: number }>(
        'SELECT request_key, count(*)::int AS n FROM command_log WHERE request_key IS NOT NULL GROUP BY request_key',
      )
    ).rows) {
      logged.set(row.request_key, Number(row.n));
    }
    await pg.close();
    const duplicated: string[] = [];
    let resumedMidDelivery = 0;
    for (const s of acked) {
      const r = replies(s);
      const l = logged.get(`slack:slack:T0000001:${s.trigger}`) ?? 0;
      fam.record(r === 1 && l === 1, `#${s.n} "${s.text}": ${r} replies seen, ${l} log entries`);
      if (r > 1) duplicated.push(`#${s.n} "${s.text}": ${r} replies`);
      if (posts(s) > 1) resumedMidDelivery++;
    }
    const lookups = fake.callsTo('conversations.history').length;
    console.log(
      `[hostile] inbox SIGKILL: ${duplicated.length} of ${acked.length} acked commands seen answered twice; ` +
        `${resumedMidDelivery} were resumed after a kill inside their delivery (replaced through response_url), ${lookups} channel look-ups for an earlier copy`,
    );
    expect(acked.length).toBeGreaterThanOrEqual(50);
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
    expect(duplicated).toEqual([]);
  }, 600_000);

  it("a kill inside the reply's delivery (Slack took it, serve never heard): after restart the user still sees one reply", async () => {
    const driver = new SlackDriver({ url: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET });
    const waitFor = async (what: string, cond: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // A fresh sandbox and state of its own: `promote web qa` then surely opens an operation.
    const sandbox = await copySandbox(join(root, 'stall'));
    const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, unknown>;
    stateDir = join(sandbox.dir, 'stall-state');
    raw.state = { url: `pglite:${stateDir}` };
    configFile = join(sandbox.dir, 'stall.yaml');
    writeFileSync(configFile, stringify(raw));
    // 1. A private answer through the response_url: Slack shows it, the answer never comes back.
    await start();
    fake.stallAfterTaking('response_url');
    const ack = await driver.slashCommand({
      text: 'help promote',
      user: 'U_DEMO',
      channel: 'CSTALL1',
      triggerId: 'tr.stall.1',
      responseUrl: fake.responseUrl('stall1'),
    });
    expect(ack.status).toBe(200);
    await waitFor('the stalled response_url post', () => fake.responses.some((r) => r.id === 'stall1'));
    await kill();
    // 2. A reply in the channel (an operation's message), taken by chat.postMessage, unanswered.
    await start();
    const postsBefore = fake.callsTo('chat.postMessage').length;
    fake.stallAfterTaking('chat.postMessage');
    const ack2 = await driver.slashCommand({
      text: 'promote web qa',
      user: 'U_DEMO',
      channel: 'CSTALL2',
      triggerId: 'tr.stall.2',
      responseUrl: fake.responseUrl('stall2'),
    });
    expect(ack2.status).toBe(200);
    await waitFor(
      'the stalled chat.postMessage',
      () => fake.callsTo('chat.postMessage').length > postsBefore && fake.messagesIn('CSTALL2').length === 1,
    );
    await kill();
    // The restart sweeps both.
    await start();
    await waitFor(
      'the response_url to be posted again',
      () => fake.responses.filter((r) => r.id === 'stall1').length === 2,
    );
    const [first, second] = fake.responses.filter((r) => r.id === 'stall1');
    expect(second!.body.replace_original).toBe(true);
    expect(String(second!.body.text)).toBe(String(first!.body.text));
    expect(fake.visibleResponses('stall1')).toHaveLength(1);
    // The channel reply was found by its metadata, not posted again; the operation's later
    // edits go to that one message.
    await waitFor('a look for the earlier copy', () =>
      fake.callsTo('conversations.history').some((c) => c.args.channel === 'CSTALL2'),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(fake.messagesIn('CSTALL2')).toHaveLength(1);
    expect(fake.visibleResponses('stall2')).toHaveLength(0);
    const [message] = fake.messagesIn('CSTALL2');
    await kill();
    // The operation knows that message as its own: its later transitions edit it in place.
    const pg = new PGlite(stateDir);
    const ops = (
      await pg.query<{ message: { channel?: string; ts?: string } | null }>(
        `SELECT message FROM operations WHERE message->>'channel' = 'CSTALL2'`,
      )
    ).rows;
    await pg.close();
    expect(ops.map((o) => o.message?.ts)).toEqual([message!.ts]);
  }, 300_000);
});
