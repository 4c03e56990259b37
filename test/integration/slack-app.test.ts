import { SocketModeReceiver } from '@slack/bolt';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandInvocation, CommandService } from '../../src/core/command-service.js';
import { NotFoundError } from '../../src/core/errors.js';
import type { MessageRef } from '../../src/core/ports.js';
import { okReply, type Reply, refusedReply } from '../../src/core/reply.js';
import { createSlackApp, type SlackApp, type SlackAppLogger } from '../../src/server/slack-app.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'test-signing-secret';

/** Records invocations; answers with `answer` (a test replaces it). */
class FakeService implements CommandService {
  invocations: CommandInvocation[] = [];
  attached: { operationId: string; ref: MessageRef }[] = [];
  answer: (inv: CommandInvocation) => Promise<Reply> = async (inv) => okReply(`ran ${inv.text}`);
  execute(inv: CommandInvocation): Promise<Reply> {
    this.invocations.push(inv);
    return this.answer(inv);
  }
  async attachMessage(operationId: string, ref: MessageRef): Promise<void> {
    this.attached.push({ operationId, ref });
  }
  async matrix(viewer: string): Promise<Reply> {
    return okReply(`Matrix for ${viewer}`, [
      { type: 'table', header: ['app', 'prod'], rows: [['api', 'prod/2024.01.01.1']] },
    ]);
  }
  async pendingFor(): Promise<Reply> {
    return okReply('Waiting for you', [
      {
        type: 'buttons',
        buttons: [{ action: 'approve', label: 'Approve', value: 'op_home01', style: 'primary' }],
      },
    ]);
  }
}

const logged: { level: string; obj: unknown; msg?: string }[] = [];
const logger: SlackAppLogger = {
  debug: () => {},
  info: (obj, msg) => logged.push({ level: 'info', obj, msg }),
  warn: (obj, msg) => logged.push({ level: 'warn', obj, msg }),
  error: (obj, msg) => logged.push({ level: 'error', obj, msg }),
};

let fake: SlackFake;
let service: FakeService;
let slack: SlackApp;
let driver: SlackDriver;

beforeAll(async () => {
  fake = await SlackFake.start();
  service = new FakeService();
  slack = createSlackApp({
    service,
    signingSecret: SECRET,
    botToken: fake.token,
    slackApiUrl: fake.apiUrl,
    logger,
    botId: fake.botId,
    botUserId: fake.botUserId,
    clientOptions: { retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 1 } },
    newErrorId: () => 'err42',
  });
  const { port } = await slack.start({ port: 0 });
  driver = new SlackDriver({ url: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET });
});
afterAll(async () => {
  await slack.stop();
  await fake.close();
});
beforeEach(() => {
  service.invocations = [];
  service.attached = [];
  service.answer = async (inv) => okReply(`ran ${inv.text}`);
});

const opReply = (id: string) =>
  okReply(`Promotion ${id} waiting`, [], { operation: { id, state: 'awaiting-approval' } });

describe('slash command', () => {
  it('acks before a slow command finishes, then posts the reply and attaches the operation', async () => {
    let finish!: (r: Reply) => void;
    service.answer = () => new Promise<Reply>((resolve) => (finish = resolve));
    const res = await driver.slashCommand({
      text: 'promote api prod',
      user: 'U0ALICE01',
      channel: 'C0SLOW001',
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() =>
      expect(service.invocations).toMatchObject([
        { text: 'promote api prod', user: 'U0ALICE01', source: 'slack', channel: 'C0SLOW001' },
      ]),
    );
    expect(fake.messagesIn('C0SLOW001')).toHaveLength(0);
    finish(opReply('op_slow01'));
    await vi.waitFor(() => expect(service.attached).toHaveLength(1));
    const msg = fake.messagesIn('C0SLOW001')[0]!; // the message the operation was attached to, just awaited
    expect(service.attached[0]).toEqual({
      operationId: 'op_slow01',
      ref: { channel: 'C0SLOW001', ts: msg.ts },
    });
    expect(msg.text).toContain('Promotion op_slow01 waiting');
  });

  it('acks a burst at once while the commands run a few at a time; idle waits for the last reply', async () => {
    const waiting: (() => void)[] = [];
    service.answer = (inv) => new Promise<Reply>((resolve) => waiting.push(() => resolve(okReply(`ran ${inv.text}`))));
    const acks = await Promise.all(
      Array.from({ length: 10 }, (_, i) => driver.slashCommand({ text: `list api ${i}`, channel: 'C0BURST01' })),
    );
    expect(acks.map((r) => r.status)).toEqual(Array(10).fill(200));
    await vi.waitFor(() => expect(service.invocations).toHaveLength(4), { timeout: 10_000 }); // four at once, six wait
    let idle = false;
    const drained = slack.idle().then(() => (idle = true));
    while (fake.messagesIn('C0BURST01').length < 10) {
      // The next command waiting, or (after the last release) its reply arriving.
      await vi.waitFor(() => expect(waiting.length > 0 || fake.messagesIn('C0BURST01').length >= 10).toBe(true), {
        timeout: 10_000,
      });
      if (!waiting.length) break;
      waiting.shift()!();
      await new Promise((r) => setTimeout(r, 5));
      expect(idle && fake.messagesIn('C0BURST01').length < 10).toBe(false);
    }
    await drained;
    expect(service.invocations).toHaveLength(10);
  });

  it.each([
    ['a wrong secret', { secret: 'not-the-secret' }],
    ['a stale timestamp', { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }],
    ['an altered body', { alterBody: (b: string) => b.replace('list', 'promote') }],
    ['missing headers', { omitHeaders: 'both' as const }],
  ])('refuses a request with %s and never runs it', async (_name, forgery) => {
    const res = await driver.slashCommand({ text: 'list' }, forgery);
    expect(res.status).toBe(401);
    expect(service.invocations).toHaveLength(0);
  });

  it('maps a retried delivery to the same idempotency key and posts once', async () => {
    service.answer = async () => opReply('op_retry01');
    const input = { text: 'promote api qa', channel: 'C0RETRY01', triggerId: 'tr.same.1' };
    expect((await driver.slashCommand(input)).status).toBe(200);
    await vi.waitFor(() => expect(service.attached).toHaveLength(1));
    expect((await driver.slashCommand(input, { retryNum: 1 })).status).toBe(200);
    await vi.waitFor(() => expect(service.invocations).toHaveLength(2));
    const [first, second] = service.invocations;
    expect(first?.idempotencyKey).toBeTruthy();
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
    // The second delivery is fully handled once the app says it did not post again.
    await vi.waitFor(() => expect(logged.some((l) => l.msg?.includes('not posting again'))).toBe(true));
    expect(fake.messagesIn('C0RETRY01')).toHaveLength(1);
    expect(service.attached).toHaveLength(1);
  });

  it('answers refusals and usage privately through response_url', async () => {
    service.answer = async () => refusedReply('Prod is frozen until Monday');
    const responseUrl = fake.responseUrl('refused1');
    await driver.slashCommand({ text: 'promote api prod', channel: 'C0PRIV001', responseUrl });
    await vi.waitFor(() => expect(fake.responses.find((r) => r.id === 'refused1')).toBeDefined());
    const { body } = fake.responses.find((r) => r.id === 'refused1')!;
    expect(body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(body.text)).toContain('Prod is frozen until Monday');
    expect(fake.messagesIn('C0PRIV001')).toHaveLength(0);
  });

  it('tells the asker how to invite the bot when it is not in the channel', async () => {
    fake.leaveChannel('C0NOBOT01');
    service.answer = async () => okReply('Matrix');
    await driver.slashCommand({
      text: 'list',
      channel: 'C0NOBOT01',
      responseUrl: fake.responseUrl('nobot1'),
    });
    await vi.waitFor(() => expect(fake.responses.find((r) => r.id === 'nobot1')).toBeDefined());
    const { body } = fake.responses.find((r) => r.id === 'nobot1')!;
    expect(body.response_type).toBe('ephemeral');
    expect(String(body.text)).toContain('/invite @Conveyor` in #deploys');
  });

  it('turns a known error into one line and an unknown one into a line with an id', async () => {
    service.answer = async () => {
      throw new NotFoundError('No app named "apx"');
    };
    await driver.slashCommand({ text: 'list apx', responseUrl: fake.responseUrl('known1') });
    service.answer = async () => {
      throw new Error('db exploded at /srv/secret/path');
    };
    await driver.slashCommand({ text: 'list', responseUrl: fake.responseUrl('unknown1') });
    await vi.waitFor(() => expect(fake.responses.filter((r) => /known1/.test(r.id))).toHaveLength(2));
    const text = (id: string) => String(fake.responses.find((r) => r.id === id)?.body.text);
    expect(text('known1')).toBe(':warning: No app named "apx"');
    expect(text('unknown1')).toContain('err42');
    expect(text('unknown1')).not.toContain('exploded');
    expect(logged.some((l) => l.level === 'error' && (l.obj as { errorId?: string }).errorId === 'err42')).toBe(true);
  });

  it('keeps a 300-row table within Block Kit limits and renders user text inert', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => [`app-${i}`, `prod/2024.01.${i}`, 'healthy', '<!channel>']);
    service.answer = async () =>
      okReply('Matrix <!here>', [{ type: 'table', header: ['app', 'tag', 'state', 'note'], rows }]);
    await driver.slashCommand({ text: 'list', channel: 'C0TABLE01' });
    await vi.waitFor(() => expect(fake.messagesIn('C0TABLE01')).toHaveLength(1));
    const msg = fake.messagesIn('C0TABLE01')[0]!; // waited for exactly one above
    const all = JSON.stringify(msg.blocks) + msg.text;
    expect(msg.blocks.length).toBeLessThanOrEqual(50);
    expect(all).toMatch(/…and \d+ more rows/);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<!here>');
    expect(all).toContain('app-0');
  });
});

describe('buttons and the reject modal', () => {
  it('runs approve as the user who clicked', async () => {
    await driver.blockAction({
      actionId: 'conveyor_approve',
      value: 'op_abc123|tech-lead',
      user: 'U0BOB0001',
    });
    await vi.waitFor(() => expect(service.invocations).toHaveLength(1));
    expect(service.invocations[0]).toMatchObject({
      text: 'approve op_abc123',
      user: 'U0BOB0001',
      source: 'slack',
    });
    await vi.waitFor(() => expect(fake.ephemerals.find((e) => e.text.includes('ran approve op_abc123'))).toBeDefined());
  });

  it('tells a refused clicker why, privately', async () => {
    service.answer = async () => refusedReply('You cannot approve your own request');
    await driver.blockAction({
      actionId: 'conveyor_approve:1',
      value: 'op_abc123',
      user: 'U0ALICE01',
      channel: 'C0BTN0001',
    });
    const mine = () => fake.ephemerals.find((e) => e.channel === 'C0BTN0001' && e.user === 'U0ALICE01');
    await vi.waitFor(() => expect(mine()).toBeDefined());
    expect(mine()?.text).toContain('You cannot approve your own request');
  });

  it('refuses a forged button value without running anything', async () => {
    await driver.blockAction({ actionId: 'conveyor_approve', value: 'op_1; rm -rf /', user: 'U0EVE0001' });
    await vi.waitFor(() => expect(fake.ephemerals.find((e) => e.user === 'U0EVE0001')).toBeDefined());
    expect(fake.ephemerals.find((e) => e.user === 'U0EVE0001')?.text).toContain('invalid value');
    expect(service.invocations).toHaveLength(0);
  });

  it('opens a modal on reject and runs reject with the reason on submit', async () => {
    await driver.blockAction({
      actionId: 'conveyor_reject',
      value: 'op_rej001|devops',
      user: 'U0BOB0001',
      triggerId: 'tr.rej',
    });
    await vi.waitFor(() => expect(fake.openedViews.find((v) => v.triggerId === 'tr.rej')).toBeDefined());
    const { view } = fake.openedViews.find((v) => v.triggerId === 'tr.rej')!;
    expect(service.invocations).toHaveLength(0);
    const res = await driver.viewSubmission({
      callbackId: String(view.callback_id),
      user: 'U0BOB0001',
      privateMetadata: String(view.private_metadata),
      values: { reason: { reason: { type: 'plain_text_input', value: 'not ready:\n tests red' } } },
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(service.invocations).toHaveLength(1));
    expect(service.invocations[0]).toMatchObject({
      text: 'reject op_rej001 "not ready: tests red"',
      user: 'U0BOB0001',
    });
  });
});

describe('events', () => {
  it('publishes the App Home view when the tab opens', async () => {
    const res = await driver.appHomeOpened({ user: 'U0HOME001' });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(fake.homeViews.get('U0HOME001')).toBeDefined());
    const blocks = JSON.stringify(fake.homeViews.get('U0HOME001')?.blocks);
    expect(blocks).toContain('Matrix for U0HOME001');
    expect(blocks).toContain('conveyor_approve');
  });

  it('answers url_verification with the challenge', async () => {
    const res = await driver.urlVerification('chal-123');
    expect(JSON.parse(res.body)).toEqual({ challenge: 'chal-123' });
  });
});

describe('Socket Mode', () => {
  it('uses a Socket Mode receiver when an app token is given (nothing connects until start)', () => {
    const socket = createSlackApp({
      service,
      signingSecret: SECRET,
      botToken: fake.token,
      appToken: 'xapp-1-fake',
      slackApiUrl: fake.apiUrl,
      logger,
      botId: fake.botId,
      botUserId: fake.botUserId,
    });
    expect(socket.receiver).toBeInstanceOf(SocketModeReceiver);
  });
});
