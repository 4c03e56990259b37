/**
 * Where operation messages go, through the real server and the fake Slack: a prod request typed
 * in another channel is posted in the environment's channel (#deploys-prod, resolved by
 * conversations.list) and the channel it was typed in gets one short line with the permalink;
 * the waiting message mentions exactly the eligible approvers and groups, its buttons carry the
 * confirm dialog (prod has `confirm: true`); the approvals then drive a burst of transitions whose
 * edits arrive at most once per second per message, the final state last, each in the thread.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SlackDriver } from '../support/slack-driver.js';
import { captureLog, type E2eWorkspace, makeE2eWorkspace, startSlackServe } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'channels-signing-secret';
const PROD = 'C0PROD0001';
const ELSEWHERE = 'C0RANDOM01';
const REQUESTER = 'U_DEMO';

let ws: E2eWorkspace;
let fake: SlackFake;
let server: RunningServer;
let driver: SlackDriver;

type Button = { action_id: string; value: string; confirm?: { title: { text: string }; text: { text: string } } };
const buttonsOf = (blocks: unknown[]): Button[] =>
  (blocks as { type: string; elements?: Button[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);
const approvalsOf = (blocks: unknown[]) =>
  (blocks as { text?: { text?: string } }[]).map((b) => b.text?.text ?? '').find((t) => t.startsWith('*approvals*')) ??
  '';

beforeAll(async () => {
  ws = await makeE2eWorkspace();
  const raw = parse(readFileSync(ws.configFile, 'utf8')) as {
    environments: { name: string; confirm?: boolean }[];
    roles: Record<string, { users: string[]; groups?: string[] }>;
  };
  raw.environments.find((e) => e.name === 'prod')!.confirm = true;
  raw.roles['product-owner'] = { users: [], groups: ['S0PRODOWN'] };
  raw.roles.devops = { users: ['U_OPS', 'U_OPS2'] };
  writeFileSync(ws.configFile, stringify(raw));
  fake = await SlackFake.start();
  fake.addChannel(PROD, 'deploys-prod');
  fake.addChannel('C0STAGING1', 'deploys-staging');
  fake.setUserGroup('S0PRODOWN', ['U_PO']);
  ({ server, driver } = await startSlackServe(ws, fake, SECRET, captureLog().log));
});

afterAll(async () => {
  await server?.stop();
  await fake?.close();
  ws?.remove();
});

describe("operation messages in the environment's channel", () => {
  let ts = '';
  let opId = '';

  it('typed elsewhere: the message goes to #deploys-prod, the typed-in channel gets a permalink line', async () => {
    const res = await driver.slashCommand({
      text: 'promote api prod',
      user: REQUESTER,
      channel: ELSEWHERE,
      triggerId: 'tr.channels.1',
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(fake.messagesIn(ELSEWHERE)).toHaveLength(1), { timeout: 20_000 });
    const [msg] = fake.messagesIn(PROD);
    expect(msg).toBeDefined();
    ts = msg!.ts;
    opId = buttonsOf(msg!.blocks)[0]!.value;
    const [line] = fake.messagesIn(ELSEWHERE);
    expect(line!.text).toContain(fake.permalink(PROD, ts));
    expect(line!.text).toContain('waiting for approval');
    expect(buttonsOf(line!.blocks)).toEqual([]); // a short line, not a second copy of the request
    await vi.waitFor(async () =>
      expect((await server.runtime.store.operation(opId)).message).toEqual({ channel: PROD, ts }),
    );
  });

  it('mentions exactly who can fill each missing role: the named users, a group only where no user is named; nobody else', () => {
    const approvals = approvalsOf(fake.message(PROD, ts)!.blocks);
    expect(approvals).toContain('*tech-lead*: waiting: <@U_LEAD>');
    expect(approvals).toContain('*product-owner*: waiting: <!subteam^S0PRODOWN>');
    expect(approvals).toContain('*devops*: waiting: <@U_OPS> <@U_OPS2>');
    for (const other of ['<@U_DEMO>', '<@U_QA>', '<@U_PO>']) expect(approvals).not.toContain(other);
  });

  it('prod approvals carry a confirm dialog naming app, environment and version', () => {
    const [approve, reject] = buttonsOf(fake.message(PROD, ts)!.blocks);
    expect(approve!.confirm?.title.text).toBe('Approve promote?');
    expect(approve!.confirm?.text.text).toMatch(
      new RegExp(`^Approve api → prod at \\S+ \\(${opId}\\), asked by ${REQUESTER}\\?$`),
    );
    expect(reject!.confirm?.title.text).toBe('Reject promote?');
  });

  it('approvals and the burst of transitions after them: at most one chat.update per second, the final state last, every step in the thread', async () => {
    for (const user of ['U_LEAD', 'U_PO', 'U_OPS']) {
      const before = fake.ephemerals.filter((e) => e.user === user).length;
      await driver.blockAction({ actionId: 'conveyor_approve', value: opId, user, channel: PROD, messageTs: ts });
      await vi.waitFor(() => expect(fake.ephemerals.filter((e) => e.user === user).length).toBe(before + 1), {
        timeout: 20_000,
      });
    }
    await vi.waitFor(() => expect(fake.message(PROD, ts)!.text).toContain('succeeded'), { timeout: 20_000 });
    const updates = fake.callsTo('chat.update').filter((c) => c.args.ts === ts);
    const times = updates.map((u) => u.at.getTime());
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
    expect(String(updates.at(-1)!.args.text)).toContain('succeeded');
    const thread = fake
      .messagesIn(PROD)
      .filter((m) => m.threadTs === ts)
      .map((m) => m.text);
    const order = ['approved', 'applying', 'succeeded'].map((word) => thread.findIndex((t) => t.includes(word)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(thread.at(-1)).toContain(`<@${REQUESTER}>`); // the end mentions the requester
    expect(fake.messagesIn(PROD).filter((m) => !m.threadTs)).toHaveLength(1);
  });

  it('typed in the environment channel itself: one message there, no link line', async () => {
    const before = fake.messagesIn('C0STAGING1').length;
    await driver.slashCommand({
      text: 'promote web staging',
      user: REQUESTER,
      channel: 'C0STAGING1',
      triggerId: 'tr.channels.2',
    });
    await vi.waitFor(() => expect(fake.messagesIn('C0STAGING1').length).toBe(before + 1), { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.messagesIn('C0STAGING1').filter((m) => !m.threadTs)).toHaveLength(before + 1);
    expect(fake.callsTo('chat.getPermalink')).toHaveLength(1);
  });
});
