/**
 * `gate.dmApprovers`: while a request waits, each named person who can fill a missing role also
 * gets it privately (the same card and buttons), once; the requester and people outside the
 * role get nothing; a click in that direct message approves like one in the channel. Through
 * the real server, signed requests and the Slack fake.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SlackDriver } from '../support/slack-driver.js';
import { captureLog, type E2eWorkspace, makeE2eWorkspace, startSlackServe } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'dm-signing-secret';
const STAGING = 'C0STAGING1';

let ws: E2eWorkspace;
let fake: SlackFake;
let server: RunningServer;
let driver: SlackDriver;

type Button = { action_id: string; value: string };
const buttonsOf = (blocks: unknown[]): Button[] =>
  (blocks as { type: string; elements?: Button[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

beforeAll(async () => {
  ws = await makeE2eWorkspace();
  const raw = parse(readFileSync(ws.configFile, 'utf8')) as {
    environments: { name: string; gate?: Record<string, unknown> }[];
    roles: Record<string, { users: string[]; groups?: string[] }>;
  };
  const staging = raw.environments.find((e) => e.name === 'staging')!;
  staging.gate = { ...(staging.gate ?? {}), roles: { 'qa-lead': 1 }, dmApprovers: true };
  raw.roles['qa-lead'] = { users: ['U_QA', 'U_QA2', 'U_DEMO'] };
  writeFileSync(ws.configFile, stringify(raw));
  fake = await SlackFake.start();
  fake.addChannel(STAGING, 'deploys-staging');
  ({ server, driver } = await startSlackServe(ws, fake, SECRET, captureLog().log));
});

afterAll(async () => {
  await server?.stop();
  await fake?.close();
  ws?.remove();
});

describe('a waiting request sent privately to its approvers', () => {
  it('each eligible person gets it once, with the buttons; not the requester, not others; a click there approves', async () => {
    const res = await driver.slashCommand({
      text: 'promote api staging',
      user: 'U_DEMO',
      channel: STAGING,
      triggerId: 'tr.dm.1',
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(fake.messagesIn('U_QA')).toHaveLength(1), { timeout: 20_000 });
    await vi.waitFor(() => expect(fake.messagesIn('U_QA2')).toHaveLength(1), { timeout: 20_000 });
    const [dm] = fake.messagesIn('U_QA');
    const [approve] = buttonsOf(dm!.blocks);
    expect(approve?.action_id).toMatch(/^conveyor_approve/);
    const opId = approve!.value.split('|')[0]!;
    expect((await server.runtime.store.operation(opId)).state).toBe('awaiting-approval');
    // The requester (also a qa-lead) and people outside the role are not sent it.
    for (const other of ['U_DEMO', 'U_LEAD', 'U_PO']) expect(fake.messagesIn(other)).toHaveLength(0);

    // U_QA approves from the direct message.
    await driver.blockAction({
      actionId: 'conveyor_approve',
      value: opId,
      user: 'U_QA',
      channel: 'D0QA00001',
      messageTs: dm!.ts,
    });
    await vi.waitFor(
      async () =>
        expect((await server.runtime.store.operations({ env: 'staging' })).find((o) => o.id === opId)?.state).toBe(
          'succeeded',
        ),
      {
        timeout: 30_000,
      },
    );
    expect((await server.runtime.store.approvals(opId)).map((a) => a.userId)).toEqual(['U_QA']);
    // Still one direct message each: re-announcing the waiting state did not send it again.
    expect(fake.messagesIn('U_QA').filter((m) => !m.threadTs)).toHaveLength(1);
    expect(fake.messagesIn('U_QA2').filter((m) => !m.threadTs)).toHaveLength(1);
  });
});
