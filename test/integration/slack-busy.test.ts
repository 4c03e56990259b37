/**
 * A bounded queue after the ack: when the commands waiting for their turn reach the bound, the
 * next slash command is answered "busy" in its ack (privately, at once) and is not taken, so
 * nothing is queued without end; once the queue drains, commands are taken again. Driven with
 * signed requests against the real Bolt app and the Slack fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandInvocation, CommandService } from '../../src/core/command-service.js';
import type { MessageRef } from '../../src/core/ports.js';
import { okReply, type Reply } from '../../src/core/reply.js';
import { BUSY_TEXT, createSlackApp, type SlackApp } from '../../src/server/slack-app.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'busy-signing-secret';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Holds every command until `release()`. */
class HeldService implements CommandService {
  ran: string[] = [];
  private gate!: Promise<void>;
  private open!: () => void;
  constructor() {
    this.hold();
  }
  hold(): void {
    this.gate = new Promise((r) => {
      this.open = r;
    });
  }
  release(): void {
    this.open();
  }
  async execute(inv: CommandInvocation): Promise<Reply> {
    await this.gate;
    this.ran.push(inv.text);
    return okReply(`ran ${inv.text}`, [], { ephemeral: true });
  }
  async attachMessage(_id: string, _ref: MessageRef): Promise<void> {}
  async matrix(): Promise<Reply> {
    return okReply('matrix');
  }
  async pendingFor(): Promise<Reply> {
    return okReply('pending');
  }
}

describe('the work queue after acks is bounded', () => {
  let fake: SlackFake;
  let slack: SlackApp;
  let driver: SlackDriver;
  const service = new HeldService();
  let busyCount = 0;

  beforeAll(async () => {
    fake = await SlackFake.start();
    slack = createSlackApp({
      service,
      signingSecret: SECRET,
      botToken: fake.token,
      slackApiUrl: fake.apiUrl,
      logger: quiet,
      botId: fake.botId,
      botUserId: fake.botUserId,
      workConcurrency: 2,
      maxQueued: 5,
      onBusy: () => busyCount++,
    });
    const { port } = await slack.start({ port: 0 });
    driver = new SlackDriver({ url: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET });
  });
  afterAll(async () => {
    service.release();
    await slack.stop();
    await fake.close();
  });

  it('answers "busy" past the bound, takes nothing it cannot run, and takes commands again once drained', async () => {
    const send = (n: number) =>
      driver.slashCommand({ text: `help ${n}`, triggerId: `tr.busy.${n}`, responseUrl: fake.responseUrl(`busy${n}`) });
    const taken = [];
    for (let n = 0; n < 5; n++) taken.push(await send(n));
    expect(taken.map((r) => [r.status, r.body])).toEqual(Array.from({ length: 5 }, () => [200, '']));
    const turnedAway = await send(5);
    expect(turnedAway.status).toBe(200);
    expect(JSON.parse(turnedAway.body)).toEqual({ response_type: 'ephemeral', text: BUSY_TEXT });
    expect(busyCount).toBe(1);

    service.release();
    await slack.idle();
    // Exactly the five taken ones ran and were answered; the busy one was never run.
    expect(service.ran.sort()).toEqual(['help 0', 'help 1', 'help 2', 'help 3', 'help 4']);
    expect(fake.responses.map((r) => r.id).sort()).toEqual(['busy0', 'busy1', 'busy2', 'busy3', 'busy4']);

    const again = await send(6);
    expect([again.status, again.body]).toEqual([200, '']);
    await slack.idle();
    expect(service.ran).toContain('help 6');
  });
});
