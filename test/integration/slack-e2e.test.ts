/**
 * Slack end to end: the real server (`startServer`) on loopback with its real Bolt app, real
 * bare Git repositories and the embedded store, talking to the fake Slack Web API through
 * `SLACK_API_URL`, driven by signed (and forged) Slack requests over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SlackDriver } from '../support/slack-driver.js';
import {
  type CapturedLog,
  captureLog,
  type E2eWorkspace,
  git,
  makeE2eWorkspace,
  pushCommits,
  startSlackServe,
} from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'e2e-signing-secret';
const DEPLOYS = 'C0DEPLOY1';
const DIFFS = 'C0DIFFS01';
const RACE = 'C0RACE001';
const REQUESTER = 'U_DEMO';
const EXTRA_COMMITS = 300;

let ws: E2eWorkspace;
let fake: SlackFake;
let server: RunningServer;
let driver: SlackDriver;
let logs: CapturedLog;
let api: string;
let prodBefore: string;
let developHead: string;

/** Everything a message shows (section texts, button labels and values) as one string. */
const shown = (m: { text: string; blocks: unknown[] } | undefined) =>
  m ? `${m.text}\n${JSON.stringify(m.blocks)}` : '';
const ephemeralsFor = (user: string) => fake.ephemerals.filter((e) => e.user === user);
const buttonsOf = (blocks: unknown[]) =>
  (blocks as { type: string; elements?: { action_id: string; value: string }[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

beforeAll(async () => {
  ws = await makeE2eWorkspace();
  api = ws.repo('api');
  prodBefore = git(api, 'rev-parse', 'prod');
  developHead = pushCommits(api, 'develop', EXTRA_COMMITS);
  fake = await SlackFake.start();
  logs = captureLog();
  ({ server, driver } = await startSlackServe(ws, fake, SECRET, logs.log));
});

afterAll(async () => {
  await server?.stop();
  await fake?.close();
  ws?.remove();
});

describe('Slack end to end over HTTP', () => {
  let opId = '';
  let approvalTs = '';
  const promoteInput = {
    text: 'promote api prod',
    user: REQUESTER,
    channel: DEPLOYS,
    triggerId: 'tr.e2e.promote.1',
  };

  it('acks /conveyor promote api prod at once, then posts the approval request with buttons', async () => {
    const res = await driver.slashCommand(promoteInput);
    expect(res.status).toBe(200);
    // The ack carries no reply: the work happens after it, the answer comes through the Web API.
    expect(res.body).toBe('');
    expect(git(api, 'rev-parse', 'prod')).toBe(prodBefore);

    await vi.waitFor(() => expect(fake.messagesIn(DEPLOYS)).toHaveLength(1), { timeout: 20_000 });
    const msg = fake.messagesIn(DEPLOYS)[0]!; // waited for exactly one above
    approvalTs = msg.ts;
    const buttons = buttonsOf(msg.blocks);
    expect(buttons.map((b) => b.action_id)).toEqual(['conveyor_approve', 'conveyor_reject']);
    opId = buttons[0]!.value; // the two buttons were just asserted
    expect(opId).toMatch(/^op_[0-9a-z]+$/);
    const text = shown(msg);
    expect(text).toContain('waiting for approval');
    for (const role of [
      '*tech-lead*: waiting: <@U_LEAD>',
      '*product-owner*: waiting: <@U_PO>',
      '*devops*: waiting: <@U_OPS>',
    ])
      expect(text).toContain(role);

    // The posted message becomes the operation's living message (attached right after the post).
    await vi.waitFor(async () => {
      const ops = await server.runtime.store.operations();
      expect(ops).toHaveLength(1);
      expect(ops[0]).toMatchObject({
        id: opId,
        state: 'awaiting-approval',
        requester: REQUESTER,
        message: { channel: DEPLOYS, ts: approvalTs },
      });
    });
    expect(git(api, 'rev-parse', 'prod')).toBe(prodBefore);
  });

  it('a retried delivery of the same command creates no second operation and no second post', async () => {
    const res = await driver.slashCommand(promoteInput, { retryNum: 1, retryReason: 'http_timeout' });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(logs.find('not posting again').length).toBeGreaterThan(0), {
      timeout: 20_000,
    });
    expect(await server.runtime.store.operations()).toHaveLength(1);
    expect(fake.callsTo('chat.postMessage').filter((c) => c.args.channel === DEPLOYS)).toHaveLength(1);
  });

  it('refuses forged requests with 401 and leaves no trace', async () => {
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const forged = [
      await driver.slashCommand(
        { text: 'promote web prod', user: REQUESTER, channel: DEPLOYS },
        { secret: 'not-the-secret' },
      ),
      await driver.slashCommand({ text: 'promote web prod', user: REQUESTER, channel: DEPLOYS }, { timestamp: stale }),
      await driver.blockAction(
        {
          actionId: 'conveyor_approve',
          value: opId,
          user: 'U_LEAD',
          channel: DEPLOYS,
          messageTs: approvalTs,
        },
        { secret: 'not-the-secret' },
      ),
      await driver.blockAction(
        { actionId: 'conveyor_approve', value: opId, user: 'U_PO', channel: DEPLOYS, messageTs: approvalTs },
        { timestamp: stale },
      ),
    ];
    expect(forged.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    expect(await server.runtime.store.operations()).toHaveLength(1);
    expect(await server.runtime.store.approvals(opId)).toEqual([]);
    expect(ephemeralsFor('U_LEAD')).toHaveLength(0);
    expect(ephemeralsFor('U_PO')).toHaveLength(0);
  });

  /** Click Approve as `user` with `value`; resolves with the ephemeral answer that user gets. */
  async function click(user: string, value: string) {
    const before = ephemeralsFor(user).length;
    const res = await driver.blockAction({
      actionId: 'conveyor_approve',
      value,
      user,
      channel: DEPLOYS,
      messageTs: approvalTs,
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(ephemeralsFor(user).length).toBe(before + 1), { timeout: 20_000 });
    return ephemeralsFor(user)[before]!; // waited for it above
  }

  it('refuses clicks by a non-approver and tampered buttons privately; the operation keeps waiting', async () => {
    const editsBefore = fake.message(DEPLOYS, approvalTs)!.edits;

    const outsider = await click('U_QA', opId);
    expect(outsider.channel).toBe(DEPLOYS);
    expect(outsider.text).toMatch(/not one of the approvers/);

    // The role part of a value is not trusted: claiming devops does not make U_QA one.
    const claimed = await click('U_QA', `${opId}|devops`);
    expect(claimed.text).toMatch(/not one of the approvers/);

    const unknownOp = await click('U_LEAD', 'op_zzzzzzzzzzzz');
    expect(unknownOp.text).toMatch(/no operation op_zzzzzzzzzzzz/);

    const garbage = await click('U_LEAD', "'; DROP TABLE operations; --");
    expect(garbage.text).toMatch(/invalid value/);

    const tooMany = await click('U_PO', `${opId}|devops|admin`);
    expect(tooMany.text).toMatch(/invalid value/);

    const refused = await server.runtime.store.auditLog({ operationId: opId, action: 'approval.refused' });
    expect(refused.map((r) => r.actor).sort()).toEqual(['U_QA', 'U_QA']);
    expect(await server.runtime.store.approvals(opId)).toEqual([]);
    expect(await server.runtime.store.operations()).toHaveLength(1);
    expect((await server.runtime.store.operation(opId)).state).toBe('awaiting-approval');
    expect(fake.message(DEPLOYS, approvalTs)!.edits).toBe(editsBefore);
    expect(git(api, 'rev-parse', 'prod')).toBe(prodBefore);
  });

  it('refuses the requester approving their own request, and audits the attempt', async () => {
    const own = await click(REQUESTER, opId);
    expect(own.text).toMatch(/you asked for this operation/);
    expect(await server.runtime.store.approvals(opId)).toEqual([]);
    expect((await server.runtime.store.operation(opId)).state).toBe('awaiting-approval');
    // Self-approval is a policy refusal like any other: it must leave an audit row.
    const refused = await server.runtime.store.auditLog({ operationId: opId, action: 'approval.refused' });
    expect(refused.map((r) => r.actor)).toContain(REQUESTER);
  });

  it('three approvals by tech-lead, product-owner and devops move prod, tag it and edit the same message to succeeded', async () => {
    const lead = await click('U_LEAD', opId);
    expect(lead.text).toContain('U_LEAD approved as tech-lead');
    await vi.waitFor(() => expect(shown(fake.message(DEPLOYS, approvalTs))).toContain('*tech-lead*: ✓ <@U_LEAD>'), {
      timeout: 5_000,
    });
    expect(shown(fake.message(DEPLOYS, approvalTs))).toContain('*product-owner*: waiting: <@U_PO>');

    const po = await click('U_PO', opId);
    expect(po.text).toContain('U_PO approved as product-owner');
    await vi.waitFor(() => expect(shown(fake.message(DEPLOYS, approvalTs))).toContain('*product-owner*: ✓ <@U_PO>'), {
      timeout: 5_000,
    });
    expect(git(api, 'rev-parse', 'prod')).toBe(prodBefore);

    const ops = await click('U_OPS', opId);
    expect(ops.text).toContain('U_OPS approved as devops');

    await vi.waitFor(() => expect(fake.message(DEPLOYS, approvalTs)!.text).toContain('succeeded'), {
      timeout: 20_000,
    });
    const final = fake.message(DEPLOYS, approvalTs)!;
    expect(buttonsOf(final.blocks)).toEqual([]);
    expect(shown(final)).toContain('*devops*: ✓ <@U_OPS>');
    // One living message: every update edited the request's own message; the rest went to its thread.
    expect(fake.messagesIn(DEPLOYS).filter((m) => !m.threadTs)).toHaveLength(1);
    expect(
      fake
        .messagesIn(DEPLOYS)
        .filter((m) => m.threadTs)
        .every((m) => m.threadTs === approvalTs),
    ).toBe(true);
    const updates = fake.callsTo('chat.update');
    expect(updates.length).toBeGreaterThanOrEqual(3);
    expect(updates.every((u) => u.args.channel === DEPLOYS && u.args.ts === approvalTs && u.outcome === 'ok')).toBe(
      true,
    );

    const op = await server.runtime.store.operation(opId);
    expect(op.state).toBe('succeeded');
    const staging = git(api, 'rev-parse', 'staging');
    const prod = git(api, 'rev-parse', 'prod');
    expect(prod).not.toBe(prodBefore);
    expect(git(api, 'rev-parse', 'prod^{tree}')).toBe(git(api, 'rev-parse', 'staging^{tree}'));
    expect(prod).toBe(staging);
    const tag = git(api, 'describe', '--exact-match', '--match', 'prod/*', 'prod');
    expect(tag).toMatch(/^prod\/\d{4}\.\d{2}\.\d{2}\.\d+$/);
    expect(shown(final)).toContain(tag);
    const message = git(api, 'tag', '-l', '--format=%(contents)', tag);
    expect(message).toContain(`Operation: ${opId}`);
    expect(message).toContain(`Requested-By: ${REQUESTER}`);
    for (const who of ['U_LEAD', 'U_PO', 'U_OPS']) expect(message).toContain(who);
    const given = await server.runtime.store.approvals(opId);
    expect(given.map((a) => `${a.userId}:${a.role}`).sort()).toEqual([
      'U_LEAD:tech-lead',
      'U_OPS:devops',
      'U_PO:product-owner',
    ]);
  });

  it(`keeps a ${EXTRA_COMMITS}-commit diff within Block Kit limits and says how much was left out`, async () => {
    const lacking = Number(git(api, 'rev-list', '--count', `qa..${developHead}`));
    expect(lacking).toBeGreaterThan(EXTRA_COMMITS);
    const res = await driver.slashCommand({
      text: 'diff development qa api',
      user: REQUESTER,
      channel: DIFFS,
    });
    expect(res.status).toBe(200);
    await vi.waitFor(
      () => expect(fake.callsTo('chat.postMessage').filter((c) => c.args.channel === DIFFS)).toHaveLength(1),
      {
        timeout: 20_000,
      },
    );
    const [call] = fake.callsTo('chat.postMessage').filter((c) => c.args.channel === DIFFS);
    expect(call?.outcome).toBe('ok');
    const [msg] = fake.messagesIn(DIFFS);
    const text = shown(msg);
    expect(text).toContain(`qa lacks ${lacking} commit(s)`);
    expect(text).toMatch(/…and \d+ more/);
    expect(text).toContain(`…and ${lacking - 30} more`);
    // Subjects are shown escaped, never as mrkdwn.
    expect(text).toContain('&lt;cache&gt; &amp; retry');
    expect(text).not.toContain('<cache>');
  });

  it('a redelivery racing the first delivery still makes one operation and one post', async () => {
    const input = { text: 'promote web prod', user: REQUESTER, channel: RACE, triggerId: 'tr.e2e.race.1' };
    const skippedBefore = logs.find('not posting again').length;
    const [first, retry] = await Promise.all([driver.slashCommand(input), driver.slashCommand(input, { retryNum: 1 })]);
    expect([first.status, retry.status]).toEqual([200, 200]);
    await vi.waitFor(() => expect(logs.find('not posting again')).toHaveLength(skippedBefore + 1), {
      timeout: 20_000,
    });
    // The retry steps aside as soon as the inbox holds the first delivery, maybe before it ran.
    await vi.waitFor(async () => expect(await server.runtime.store.operations({ app: 'web' })).toHaveLength(1), {
      timeout: 20_000,
    });
    // The retry may step aside before the first delivery has finished posting: wait for that post.
    await vi.waitFor(
      () => expect(fake.callsTo('chat.postMessage').filter((c) => c.args.channel === RACE)).toHaveLength(1),
      {
        timeout: 20_000,
      },
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(fake.callsTo('chat.postMessage').filter((c) => c.args.channel === RACE)).toHaveLength(1);
    expect(fake.messagesIn(RACE)).toHaveLength(1);
  });
});
