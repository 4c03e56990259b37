/**
 * The first message of an operation typed in Slack is the command's reply; the operation may
 * move on while Slack is still taking that post (a slow network: here chat.postMessage answers
 * six seconds late, and the approver has approved meanwhile). Once the post's ts is
 * known, the message is edited to the state the operation is in — never left showing a state
 * it has long left.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../src/server/serve.js';
import type { SlackDriver } from '../support/slack-driver.js';
import { type E2eWorkspace, makeE2eWorkspace, startSlackServe } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'first-message-secret';
const STAGING = 'C0STAGE001';

let ws: E2eWorkspace;
let fake: SlackFake;
let server: RunningServer;
let driver: SlackDriver;

beforeAll(async () => {
  ws = await makeE2eWorkspace();
  fake = await SlackFake.start();
  fake.addChannel(STAGING, 'deploys-staging');
  ({ server, driver } = await startSlackServe(ws, fake, SECRET));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await fake?.close();
  ws?.remove();
});

const gitIn = (dir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
  }).trim();

type Button = { action_id: string; value: string };
const buttonsOf = (blocks: unknown[]): Button[] =>
  (blocks as { type: string; elements?: Button[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

describe('the first message of an operation', () => {
  it('is edited to the state the operation reached before Slack answered the post', async () => {
    const qa = gitIn(ws.repo('api'), 'rev-parse', 'qa');
    // Slack takes the post at once but answers late: meanwhile the qa-lead approves by command.
    fake.delayAnswer('chat.postMessage', 6_000);
    await driver.slashCommand({ text: 'promote api staging', user: 'U_DEMO', channel: STAGING });
    await vi.waitFor(() => expect(fake.messagesIn(STAGING)).toHaveLength(1), { timeout: 30_000 });
    const [msg] = fake.messagesIn(STAGING);
    const opId = buttonsOf(msg!.blocks)[0]!.value.split('|')[0]!;
    expect(msg!.text).toMatch(/waiting|approval/i);
    await driver.slashCommand({ text: `approve ${opId}`, user: 'U_QA', channel: 'C0ELSEWHR1' });
    await vi.waitFor(() => expect(gitIn(ws.repo('api'), 'rev-parse', 'staging')).toBe(qa), { timeout: 30_000 });
    await vi.waitFor(() => expect(fake.message(STAGING, msg!.ts)!.text).toMatch(/succeeded/i), { timeout: 30_000 });
    expect(buttonsOf(fake.message(STAGING, msg!.ts)!.blocks)).toEqual([]);
    // One message, edited in place: no second post for the operation in its channel (the
    // transitions are lines in its thread).

    expect(fake.messagesIn(STAGING).filter((m) => !m.threadTs)).toHaveLength(1);
    expect(fake.messagesIn(STAGING).filter((m) => m.threadTs && m.threadTs !== msg!.ts)).toEqual([]);
  }, 90_000);
});
