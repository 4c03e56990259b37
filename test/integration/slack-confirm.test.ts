/**
 * Approvals that ask first: in an environment with `confirm: true`, Slack's Approve and Reject
 * buttons carry a confirm dialog naming the app, the environment, the version and the request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReplyBlocks } from '../../src/adapters/slack-blocks.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

type Button = {
  action_id: string;
  confirm?: {
    title: { text: string };
    text: { text: string };
    confirm: { text: string };
    deny: { text: string };
    style?: string;
  };
};
const buttonsOf = (blocks: unknown[]): Button[] =>
  (blocks as { type: string; elements?: Button[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

describe('confirm dialogs on approvals', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await makeRuntime({
      edit: (c) => {
        c.environments[3].confirm = true;
      },
    });
  });
  afterAll(async () => t?.close());

  it('prod (confirm: true) asks before an approval or a rejection counts; staging does not', async () => {
    const prod = await t.run('promote api prod');
    expect(prod.operation?.state).toBe('awaiting-approval');
    const [approve, reject] = buttonsOf(renderReplyBlocks(prod));
    expect(approve?.confirm?.title.text).toBe('Approve promote?');
    expect(approve?.confirm?.text.text).toMatch(
      new RegExp(`^Approve api → prod at staging/\\S+ \\(${prod.operation!.id}\\), asked by U_DEMO\\?$`),
    );
    expect(approve?.confirm).toMatchObject({
      confirm: { text: 'Approve' },
      deny: { text: 'Cancel' },
      style: 'primary',
    });
    expect(reject?.confirm).toMatchObject({ title: { text: 'Reject promote?' }, style: 'danger' });
    // within Block Kit's limits for a confirmation dialog
    for (const b of [approve!, reject!]) {
      expect(b.confirm!.title.text.length).toBeLessThanOrEqual(100);
      expect(b.confirm!.text.text.length).toBeLessThanOrEqual(300);
      expect(b.confirm!.confirm.text.length).toBeLessThanOrEqual(30);
    }
    const staging = await t.run('promote api staging');
    expect(staging.operation?.state).toBe('awaiting-approval');
    expect(buttonsOf(renderReplyBlocks(staging)).every((b) => b.confirm === undefined)).toBe(true);
  });
});

describe('mentions', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await makeRuntime({
      edit: (c) => {
        c.roles['product-owner'] = { users: [], groups: ['S0PRODOWN'] };
      },
    });
  });
  afterAll(async () => t?.close());

  it('the waiting message mentions exactly who can fill each missing role (a group only where no one is named); the end mentions the requester', async () => {
    const asked = await t.run('promote api prod');
    const text = (blocks: unknown[]) => JSON.stringify(blocks);
    const approvalsOf = (blocks: unknown[]) =>
      (blocks as { text?: { text?: string } }[])
        .map((b) => b.text?.text ?? '')
        .find((t) => t.startsWith('*approvals*')) ?? '';
    const waiting = approvalsOf(renderReplyBlocks(asked));
    expect(waiting).toContain('*tech-lead*: waiting: <@U_LEAD>');
    expect(waiting).toContain('*product-owner*: waiting: <!subteam^S0PRODOWN>');
    expect(waiting).not.toContain('<@U_DEMO>'); // the requester can never approve
    const half = await t.run(`approve ${asked.operation!.id}`, 'U_LEAD');
    expect(approvalsOf(renderReplyBlocks(half))).toContain('*tech-lead*: ✓ <@U_LEAD>');
    expect(approvalsOf(renderReplyBlocks(half))).not.toContain('*tech-lead*: waiting');
    expect(asked.text).toContain('waiting for tech-lead: U_LEAD'); // plain text for the CLI
    const rejected = await t.run(`reject ${asked.operation!.id}`, 'U_LEAD');
    expect(text(renderReplyBlocks(rejected))).toContain('asked by <@U_DEMO>');
    expect(approvalsOf(renderReplyBlocks(rejected))).not.toContain('waiting');
  });
});
