/**
 * The inbox worker on its own (a migrated store, the Slack fake, a scripted CommandService):
 * what a restart finds accepted but unfinished is run and answered; a private answer goes
 * through response_url while Slack keeps it valid and as an ephemeral message in the channel
 * after 30 minutes; a reply the delivery log says Slack already has is not sent again. With the
 * embedded store's accept log (src/server/slack-accept-log.ts) a request is acked once its line
 * is written, its row comes when its work runs, and what a killed process logged but never
 * stored is stored and answered once by the next start (the whole server under SIGKILL:
 * test/hostile/inbox-kill.test.ts).
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandInvocation, CommandService } from '../../src/core/command-service.js';
import { systemClock } from '../../src/core/ports.js';
import { okReply, type Reply, refusedReply } from '../../src/core/reply.js';
import { AcceptLog } from '../../src/server/slack-accept-log.js';
import { type CommandPayload, SlackInboxWorker } from '../../src/server/slack-inbox.js';
import { InboxStore } from '../../src/store/inbox-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { clonedStore } from '../support/runtime.js';
import { SlackFake, silentSlackLogger } from '../support/slack-fake.js';

class ScriptedService implements CommandService {
  runs: CommandInvocation[] = [];
  async execute(inv: CommandInvocation): Promise<Reply> {
    this.runs.push(inv);
    return inv.text.startsWith('promote') ? refusedReply(`refused: ${inv.text}`) : okReply(`ran ${inv.text}`);
  }
  async attachMessage(): Promise<void> {}
  async matrix(): Promise<Reply> {
    return okReply('matrix');
  }
  async pendingFor(): Promise<Reply> {
    return okReply('pending');
  }
}

const quiet = { info() {}, warn() {}, error() {} };

describe('the Slack inbox worker', () => {
  let fake: SlackFake;
  let store: StateStore;
  let inbox: InboxStore;
  let client: WebClient;
  let dir: string;

  beforeAll(async () => {
    fake = await SlackFake.start();
    store = await clonedStore(systemClock);
    inbox = new InboxStore(store.db, systemClock);
    client = new WebClient(fake.token, {
      slackApiUrl: fake.apiUrl,
      logger: silentSlackLogger,
      retryConfig: { retries: 0 },
    });
    dir = mkdtempSync(join(tmpdir(), 'conveyor-inbox-'));
  });
  afterAll(async () => {
    await store.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const worker = (
    service: CommandService,
    extra: {
      now?: () => number;
      deliveryLog?: string;
      postJson?: (url: string, body: string) => Promise<number>;
      acceptLog?: AcceptLog;
      schedule?: (task: () => Promise<void>) => void;
    } = {},
  ) =>
    new SlackInboxWorker({
      inbox,
      worker: `test-${Math.random()}`,
      service,
      client,
      log: quiet,
      failureLine: (err) => String(err),
      tellUser: async (c, user, channel, reply) => {
        const text = typeof reply === 'string' ? reply : reply.title;
        await c.chat.postEphemeral({ channel: channel ?? user, user, text });
      },
      publishHome: async () => {},
      schedule: (task) => void task(),
      ...extra,
    });

  const accepted = async (id: string, text: string, channel: string) => {
    // What a process that acked and then died leaves behind: the row, no claim, no answer.
    expect(
      await inbox.accept(id, 'command', { text, user: 'U_DEMO', channel, responseUrl: fake.responseUrl(id) }),
    ).toBe(true);
  };

  it('a restart runs and answers what was acked but never finished, once', async () => {
    await accepted('slack:T1:resume-1', 'list api', 'C0RESUME1');
    await accepted('slack:T1:resume-2', 'promote api prod', 'C0RESUME1');
    expect(await inbox.accept('slack:T1:resume-1', 'command', {})).toBe(false); // a Slack retry
    const service = new ScriptedService();
    const w = worker(service);
    expect(await w.sweep()).toBeGreaterThanOrEqual(2);
    await waitFor(
      async () =>
        (await inbox.get('slack:T1:resume-1'))?.state === 'done' &&
        (await inbox.get('slack:T1:resume-2'))?.state === 'done',
    );
    await w.stop();
    expect(fake.messagesIn('C0RESUME1').map((m) => m.text)).toEqual([expect.stringContaining('ran list api')]);
    expect(fake.responses.filter((r) => r.id === 'slack:T1:resume-2').map((r) => r.body.response_type)).toEqual([
      'ephemeral',
    ]);
    expect(service.runs.map((r) => [r.text, r.idempotencyKey])).toEqual([
      ['list api', 'slack:T1:resume-1'],
      ['promote api prod', 'slack:T1:resume-2'],
    ]);
    expect(await w.sweep()).toBe(0);
  });

  it('answers privately through response_url for 29 minutes, in the channel after that', async () => {
    await accepted('slack:T1:late-1', 'promote api qa', 'C0LATE001');
    const service = new ScriptedService();
    const w = worker(service, { now: () => Date.now() + 31 * 60_000 });
    await w.sweep();
    await waitFor(async () => (await inbox.get('slack:T1:late-1'))?.state !== 'accepted');
    await w.stop();
    expect(fake.responses.filter((r) => r.id === 'slack:T1:late-1')).toHaveLength(0);
    expect(fake.ephemerals.filter((e) => e.channel === 'C0LATE001').map((e) => [e.user, e.text])).toEqual([
      ['U_DEMO', 'refused: promote api qa'],
    ]);
  });

  it('a response_url that refused the reply (HTTP 500) gets a first delivery on the retry, not a replacement', async () => {
    await accepted('slack:T1:refused-1', 'promote web qa', 'C0REFUSE1');
    const log = join(dir, 'deliveries-refused');
    let refusals = 1;
    // The first POST is answered 500 without Slack taking anything; the next ones reach the fake.
    const postJson = async (url: string, body: string) => {
      if (refusals-- > 0) return 500;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body?.cancel();
      return res.status;
    };
    const service = new ScriptedService();
    const w = worker(service, { deliveryLog: log, postJson });
    await w.sweep();
    await waitFor(async () => (await inbox.get('slack:T1:refused-1'))?.attempts === 1);
    await waitFor(async () => (await inbox.open(200)).includes('slack:T1:refused-1')); // released for the sweep
    await w.sweep();
    await waitFor(async () => (await inbox.get('slack:T1:refused-1'))?.state === 'done');
    await w.stop();
    const posts = fake.responses.filter((r) => r.id === 'slack:T1:refused-1');
    expect(posts.map((r) => r.body.replace_original)).toEqual([false]);
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual([
      'b url:slack:T1:refused-1',
      'x url:slack:T1:refused-1',
      'b url:slack:T1:refused-1',
      'd slack:T1:refused-1',
    ]);
  });

  it('does not send again a reply the delivery log says Slack has', async () => {
    await accepted('slack:T1:sent-1', 'list web', 'C0SENT001');
    const log = join(dir, 'deliveries');
    writeFileSync(log, 'slack:T1:sent-1\n');
    const service = new ScriptedService();
    const w = worker(service, { deliveryLog: log });
    await w.sweep();
    await waitFor(async () => (await inbox.get('slack:T1:sent-1'))?.state !== 'accepted');
    await w.stop();
    expect(fake.messagesIn('C0SENT001')).toHaveLength(0);
    expect(service.runs).toHaveLength(0);
    expect((await inbox.get('slack:T1:sent-1'))?.state).toBe('done');
  });

  describe('with the accept log of the embedded store', () => {
    const payload = (id: string, text: string): CommandPayload => ({
      text,
      user: 'U_DEMO',
      channel: 'C0ACCEPT1',
      responseUrl: fake.responseUrl(id),
    });
    /** The channel posts answering `id` (the scripted service echoes the text, which names it). */
    const answersTo = (id: string) => fake.messagesIn('C0ACCEPT1').filter((m) => m.text?.includes(id)).length;

    it('acks once the line is written; the row comes when the work runs, and the log empties after', async () => {
      const file = join(dir, 'first.slack-accepts');
      const acceptLog = AcceptLog.open(file, { truncateAt: 0 });
      const held: (() => Promise<void>)[] = [];
      const service = new ScriptedService();
      const w = worker(service, { acceptLog, schedule: (task) => held.push(task) });
      const id = 'slack:T1:accept-1';

      expect(await w.accept(id, 'command', payload(id, `list ${id}`))).toBe(true);
      expect(readFileSync(file, 'utf8')).toContain(`"id":"${id}"`);
      expect(await inbox.get(id)).toBeNull(); // acked with no row yet: its work writes it
      expect(await w.accept(id, 'command', payload(id, `list ${id}`))).toBe(false); // Slack's retry meanwhile
      w.enqueue(id, { kind: 'command', payload: payload(id, `list ${id}`) });

      await Promise.all(held.splice(0).map((task) => task()));
      await waitFor(async () => (await inbox.get(id))?.state === 'done');
      expect(service.runs.map((r) => r.idempotencyKey)).toEqual([id]);
      expect(answersTo(id)).toBe(1);
      expect(statSync(file).size).toBe(0); // every line has its row: emptied
      await w.stop();
      await expect(w.accept('slack:T1:accept-late', 'command', payload('late', 'help'))).rejects.toThrow(/closed/);
    });

    it('what a killed process logged is stored and answered once by the next start', async () => {
      const file = join(dir, 'killed.slack-accepts');
      const before = worker(new ScriptedService(), {
        acceptLog: AcceptLog.open(file),
        schedule: () => {
          throw new Error('killed before any work ran');
        },
      });
      const ids = ['slack:T1:killed-1', 'slack:T1:killed-2'];
      for (const id of ids) expect(await before.accept(id, 'command', payload(id, `list ${id}`))).toBe(true);
      appendFileSync(file, '{"id":"slack:T1:torn","kind":"comm'); // a write the kill cut short (never acked)
      // killed here: no row, no answer, the file left as it is

      const acceptLog = AcceptLog.open(file);
      expect(readFileSync(`${file}.replay`, 'utf8')).toContain(ids[0]);
      expect(statSync(file).size).toBe(0);
      const service = new ScriptedService();
      const running: Promise<void>[] = [];
      const w = worker(service, { acceptLog, schedule: (task) => void running.push(task()) });
      expect(await w.sweep()).toBeGreaterThanOrEqual(2);
      await waitFor(async () => (await Promise.all(ids.map((id) => inbox.get(id)))).every((r) => r?.state === 'done'));
      expect(service.runs.map((r) => r.idempotencyKey).sort()).toEqual(ids);
      expect(ids.map(answersTo)).toEqual([1, 1]);
      expect(existsSync(`${file}.replay`)).toBe(false);
      expect(await inbox.get('slack:T1:torn')).toBeNull();

      await w.stop();

      // Slack's retry of one of them, reaching a process started again since: its row is there,
      // so it is not run or answered again
      const again = worker(service, {
        acceptLog: AcceptLog.open(file),
        schedule: (task) => void running.push(task()),
      });
      expect(await again.accept(ids[0]!, 'command', payload(ids[0]!, `list ${ids[0]}`))).toBe(true);
      again.enqueue(ids[0]!, { kind: 'command', payload: payload(ids[0]!, `list ${ids[0]}`) });
      await Promise.all(running);
      await again.stop();
      expect(service.runs).toHaveLength(2);
      expect(answersTo(ids[0]!)).toBe(1);
    });
  });
});

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
