/**
 * The embedded store's accept log (src/server/slack-accept-log.ts) under the inbox worker: a
 * request is acked once its line is written, its inbox row comes when its work runs, and what a
 * killed process logged but never stored is stored and answered once by the next start. The
 * store is a migrated PGlite, Slack is the fake; the whole server under SIGKILL is
 * test/hostile/inbox-kill.test.ts.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandInvocation, CommandService } from '../../src/core/command-service.js';
import { systemClock } from '../../src/core/ports.js';
import { okReply, type Reply } from '../../src/core/reply.js';
import { AcceptLog } from '../../src/server/slack-accept-log.js';
import { type CommandPayload, SlackInboxWorker } from '../../src/server/slack-inbox.js';
import { InboxStore } from '../../src/store/inbox-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { clonedStore } from '../support/runtime.js';
import { SlackFake, silentSlackLogger } from '../support/slack-fake.js';

class CountingService implements CommandService {
  runs: CommandInvocation[] = [];
  async execute(inv: CommandInvocation): Promise<Reply> {
    this.runs.push(inv);
    return okReply(`ran ${inv.text}`, [], { ephemeral: true });
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

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the Slack accept log', () => {
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
    dir = mkdtempSync(join(tmpdir(), 'conveyor-accept-log-'));
  });
  afterAll(async () => {
    await store.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const worker = (service: CommandService, acceptLog: AcceptLog, schedule: (task: () => Promise<void>) => void) =>
    new SlackInboxWorker({
      inbox,
      worker: `test-${Math.random()}`,
      service,
      client,
      log: quiet,
      failureLine: (err) => String(err),
      tellUser: async () => {},
      publishHome: async () => {},
      schedule,
      acceptLog,
    });
  const payload = (id: string, text: string): CommandPayload => ({
    text,
    user: 'U_DEMO',
    channel: 'C0ACCEPT1',
    responseUrl: fake.responseUrl(id),
  });
  const answersTo = (id: string) => fake.responses.filter((r) => r.id === id).length;

  it('acks once the line is written; the row comes when the work runs, and the log empties after', async () => {
    const file = join(dir, 'first.slack-accepts');
    const log = AcceptLog.open(file, { truncateAt: 0 });
    const held: (() => Promise<void>)[] = [];
    const service = new CountingService();
    const w = worker(service, log, (task) => held.push(task));
    const id = 'slack:T1:accept-1';

    expect(await w.accept(id, 'command', payload(id, 'list api'))).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(`"id":"${id}"`);
    expect(await inbox.get(id)).toBeNull(); // acked with no row yet: the work writes it
    expect(await w.accept(id, 'command', payload(id, 'list api'))).toBe(false); // Slack's retry meanwhile
    w.enqueue(id, { kind: 'command', payload: payload(id, 'list api') });

    await Promise.all(held.splice(0).map((t) => t()));
    await waitFor(async () => (await inbox.get(id))?.state === 'done');
    expect(service.runs.map((r) => r.text)).toEqual(['list api']);
    expect(answersTo(id)).toBe(1);
    expect(statSync(file).size).toBe(0); // every line has its row: emptied
    await w.stop();
    await expect(w.accept('slack:T1:accept-late', 'command', payload('late', 'help'))).rejects.toThrow(/closed/);
  });

  it('what a killed process logged is stored and answered once by the next start', async () => {
    const file = join(dir, 'killed.slack-accepts');
    const first = AcceptLog.open(file);
    const before = worker(new CountingService(), first, () => {
      throw new Error('killed before any work ran');
    });
    const ids = ['slack:T1:killed-1', 'slack:T1:killed-2'];
    for (const id of ids) expect(await before.accept(id, 'command', payload(id, `help ${id}`))).toBe(true);
    appendFileSync(file, '{"id":"slack:T1:torn","kind":"comm'); // a write the kill cut short (never acked)
    // killed here: no row, no answer, the file left as it is

    const log = AcceptLog.open(file);
    expect(readFileSync(`${file}.replay`, 'utf8')).toContain(ids[0]);
    expect(statSync(file).size).toBe(0);
    const service = new CountingService();
    const w = worker(service, log, (task) => void task());
    expect(await w.sweep()).toBeGreaterThanOrEqual(2);
    await waitFor(async () => {
      const rows = await Promise.all(ids.map((id) => inbox.get(id)));
      return rows.every((r) => r?.state === 'done');
    });
    expect(service.runs.map((r) => r.idempotencyKey).sort()).toEqual(ids);
    expect(ids.map(answersTo)).toEqual([1, 1]);
    expect(existsSync(`${file}.replay`)).toBe(false);
    expect(await inbox.get('slack:T1:torn')).toBeNull();

    // Slack's retry of one of them, after the restart: stored before, so not run or answered again
    expect(await w.accept(ids[0]!, 'command', payload(ids[0]!, `help ${ids[0]}`))).toBe(true);
    w.enqueue(ids[0]!, { kind: 'command', payload: payload(ids[0]!, `help ${ids[0]}`) });
    await w.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(service.runs).toHaveLength(2);
    expect(answersTo(ids[0]!)).toBe(1);
  });
});
