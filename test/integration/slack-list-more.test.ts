/**
 * `list` with more apps than one Slack message holds, through the real server and the fake
 * Slack: the first page ends with a "Show N more" button; clicking it (a signed block_actions
 * request) replaces the message with the next page, and the pages together name every app
 * exactly once, each within Block Kit's limits.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import type { RunningServer } from '../../src/server/serve.js';
import type { SlackDriver } from '../support/slack-driver.js';
import { type E2eWorkspace, makeE2eWorkspace, startSlackServe } from '../support/slack-e2e-setup.js';
import { blockErrors, SlackFake } from '../support/slack-fake.js';

const SECRET = 'list-more-signing-secret';
const APPS = 70;

let ws: E2eWorkspace;
let fake: SlackFake;
let server: RunningServer;
let driver: SlackDriver;

type Block = {
  type: string;
  text?: { text: string };
  fields?: unknown[];
  elements?: { action_id?: string; value?: string; text?: unknown }[];
};
const appsOn = (blocks: Block[]) =>
  blocks.filter((b) => b.fields).map((b) => /^\*(.+)\*$/.exec(b.text!.text)?.[1]?.replace(/\\_/g, '_') ?? '');
const moreButton = (blocks: Block[]) =>
  blocks
    .flatMap((b) => (b.type === 'actions' ? (b.elements ?? []) : []))
    .find((e) => e.action_id === 'conveyor_list_more');

beforeAll(async () => {
  ws = await makeE2eWorkspace();
  const raw = parse(readFileSync(ws.configFile, 'utf8')) as { apps: { name: string; repo: string }[] };
  // Many apps over one repository: what `list` shows per app is the same, the names differ.
  const repo = raw.apps[0]!.repo;
  raw.apps = Array.from({ length: APPS }, (_, i) => ({ name: `svc-${String(i).padStart(3, '0')}`, repo }));
  writeFileSync(ws.configFile, stringify(raw));
  fake = await SlackFake.start();
  ({ server, driver } = await startSlackServe(ws, fake, SECRET));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await fake?.close();
  ws?.remove();
});

describe('list past one message', () => {
  it('pages through every app with the "more" button, each page valid Block Kit', async () => {
    await driver.slashCommand({ text: 'list', user: 'U_DEMO', channel: 'C0DEPLOY1' });
    await vi.waitFor(() => expect(fake.messagesIn('C0DEPLOY1')).toHaveLength(1), { timeout: 60_000 });
    // A click's response_url stands for the message the button is on: its posts replace it.
    const url = fake.responseUrl('list-more');
    let blocks = fake.messagesIn('C0DEPLOY1')[0]!.blocks as Block[];
    const seen: string[] = [];
    for (let page = 0; page < 5; page++) {
      expect(blockErrors(blocks, 50)).toEqual([]);
      seen.push(...appsOn(blocks));
      const button = moreButton(blocks);
      if (!button) break;
      const before = fake.responses.length;
      const res = await driver.blockAction({
        actionId: 'conveyor_list_more',
        value: button.value!,
        user: 'U_DEMO',
        responseUrl: url,
      });
      expect(res.status).toBe(200);
      await vi.waitFor(() => expect(fake.responses.length).toBeGreaterThan(before), { timeout: 30_000 });
      const last = fake.responses.at(-1)!.body;
      expect(last.replace_original).toBe(true);
      expect(fake.visibleResponses('list-more')).toHaveLength(1);
      blocks = last.blocks as Block[];
    }
    const expected = Array.from({ length: APPS }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
    expect(seen).toEqual(expected);
  }, 120_000);

  it('a forged "more" value gets a one-line refusal, not a crash', async () => {
    const res = await driver.blockAction({
      actionId: 'conveyor_list_more',
      value: '3 promote svc-000 prod',
      user: 'U_DEMO',
    });
    expect(res.status).toBe(200);
    await vi.waitFor(
      () =>
        expect(
          fake
            .callsTo('chat.postEphemeral')
            .map((c) => String(c.args.text))
            .join('\n'),
        ).toContain('invalid value'),
      { timeout: 20_000 },
    );
    const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(health.status).toBe(200);
  });
});
