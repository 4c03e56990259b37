/**
 * Slack layouts through the fake Slack Web API: the `list` matrix for a phone (20 apps × 4
 * environments, no line of text wider than 60 characters, within Block Kit's limits, accepted by
 * chat.postMessage), the edits of an operation message paced to one per second under a burst of
 * transitions with the final state last and every transition in the thread, user names from
 * users.info (cached), and the gallery in docs/slack/ in step with the code and valid Block Kit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogLevel, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GALLERY_DIR, galleryPayloads, renderGallery } from '../../scripts/slack-gallery.js';
import { renderReplyBlocks, renderReplyText } from '../../src/adapters/slack-blocks.js';
import { SlackDirectory, SlackNotifier } from '../../src/adapters/slack-notifier.js';
import type { Operation, OperationState } from '../../src/core/operation.js';
import { renderOperation } from '../../src/core/operation-view.js';
import { type MatrixView, okReply } from '../../src/core/reply.js';
import { blockErrors, SlackFake, silentSlackLogger } from '../support/slack-fake.js';

let fake: SlackFake;
let client: WebClient;

beforeAll(async () => {
  fake = await SlackFake.start();
  client = new WebClient(fake.token, {
    slackApiUrl: fake.apiUrl,
    logger: silentSlackLogger,
    logLevel: LogLevel.ERROR,
    retryConfig: { retries: 0 },
  });
});
afterAll(async () => fake?.close());

/** Every line of text a message shows (section text, fields, context), markup included. */
function linesOf(blocks: unknown[]): string[] {
  const texts: string[] = [];
  for (const b of blocks as {
    text?: { text: string };
    fields?: { text: string }[];
    elements?: { text?: string | { text: string } }[];
  }[]) {
    if (b.text) texts.push(b.text.text);
    for (const f of b.fields ?? []) texts.push(f.text);
    for (const e of b.elements ?? []) if (typeof e.text === 'string') texts.push(e.text);
  }
  return texts.flatMap((t) => t.split('\n'));
}

function matrix(apps: number, envs = ['development', 'qa (PR, gate)', 'staging', 'prod (PR, gate)']): MatrixView {
  return {
    envs,
    apps: Array.from({ length: apps }, (_, i) => ({
      name: `notifications-gateway-${String(i).padStart(2, '0')}`,
      cells: envs.map((env) => ({
        env,
        version: `${env.split(' ')[0]}/2026.11.25.${100 + i}`,
        sha: '0123456789abcdef',
        age: '12d ago',
        live: i % 2 ? 'progressing' : 'healthy',
        pending: i % 3 === 0 ? [`promote op_k3v9x2m4q8abcdef`, 'rollback op_zzzzzzzzzzzz'] : [],
      })),
    })),
  };
}

describe('list on a phone', () => {
  it('20 apps × 4 environments: one section per app, a field per environment, no line over 60 characters, accepted by Slack', async () => {
    const wide = [['api', 'prod', 'x'.repeat(40), 'y'.repeat(40), 'z'.repeat(60)]];
    const reply = okReply(
      '20 apps × 4 environments',
      [{ type: 'table', header: ['a', 'b', 'c', 'd', 'e'], rows: wide }],
      { matrix: matrix(20) },
    );
    const blocks = renderReplyBlocks(reply);
    expect(blockErrors(blocks, 50)).toEqual([]);
    const sections = (blocks as { fields?: unknown[] }[]).filter((b) => b.fields);
    expect(sections).toHaveLength(20);
    expect(sections.every((s) => s.fields!.length === 4)).toBe(true);
    const lines = linesOf(blocks);
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(60);
    const res = await client.chat.postMessage({
      channel: 'C0PHONE01',
      text: renderReplyText(reply),
      blocks: blocks as never,
    });
    expect(res.ok).toBe(true);
    // The App Home keeps the wide table.
    expect(JSON.stringify(renderReplyBlocks(reply, { wide: true }))).toContain('z'.repeat(60));
  });

  it('more apps than a message holds end with "and N more" and a "more" button, never past Block Kit limits', () => {
    const view = { ...matrix(120), command: 'list' };
    const blocks = renderReplyBlocks(okReply('120 apps × 4 environments', [], { matrix: view }));
    expect(blockErrors(blocks, 50)).toEqual([]);
    expect(blocks).toHaveLength(50);
    expect(JSON.stringify(blocks.at(-2))).toContain('…and 73 more apps');
    expect(blocks.at(-1)).toMatchObject({
      type: 'actions',
      elements: [{ action_id: 'conveyor_list_more', value: '47 list', text: { text: 'Show 47 more' } }],
    });
    // The last page has no button.
    const last = renderReplyBlocks(okReply('120 apps × 4 environments', [], { matrix: view }), { matrixFrom: 94 });
    expect(last.filter((b) => b.type === 'actions')).toEqual([]);
    expect((last as { fields?: unknown[] }[]).filter((b) => b.fields)).toHaveLength(26);
  });
});

function op(state: OperationState, progress: Record<string, unknown> = {}): Operation {
  const now = new Date().toISOString();
  return {
    id: 'op_burst00001',
    kind: 'promote',
    app: 'api',
    env: 'qa',
    state,
    requester: 'U0ASKER01',
    plan: {
      app: 'api',
      env: 'qa',
      branch: 'qa',
      sourceEnv: 'development',
      sourceSha: 'a'.repeat(40),
      sourceTree: 'b'.repeat(40),
      targetHead: 'c'.repeat(40),
      mode: 'fast-forward',
      viaPullRequest: false,
      commits: [],
      commitCount: 0,
      ticket: null,
      emergency: false,
      fromTag: null,
      toTag: 'development/2026.11.25.1',
      reason: null,
    },
    progress,
    idempotencyKey: null,
    message: null,
    error: null,
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
  };
}

describe('edits of an operation message', () => {
  it('a burst of transitions: at most one chat.update per second, the final state last, every transition in the thread', async () => {
    const notifier = new SlackNotifier(client);
    const first = renderOperation(op('approved'));
    const ref = await notifier.post({ channel: 'C0BURST01', text: first.title, reply: first });
    const burst: [OperationState, Record<string, unknown>][] = [
      ['applying', {}],
      ['applying', { lastStep: 'push' }],
      ['applied', { tag: 'qa/2026.11.25.1' }],
      ['verifying', { tag: 'qa/2026.11.25.1' }],
      ['succeeded', { tag: 'qa/2026.11.25.1' }],
    ];
    for (const [state, progress] of burst) {
      const reply = renderOperation(op(state, progress));
      await notifier.update(ref, { channel: ref.channel, text: reply.title, reply });
    }
    await notifier.flush();
    const updates = fake.callsTo('chat.update').filter((c) => c.args.ts === ref.ts);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThan(burst.length);
    const times = updates.map((u) => u.at.getTime());
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
    expect(String(updates.at(-1)!.args.text)).toContain('succeeded');
    expect(fake.message(ref.channel, ref.ts)!.text).toContain('succeeded');
    const thread = fake
      .messagesIn('C0BURST01')
      .filter((m) => m.threadTs === ref.ts)
      .map((m) => m.text);
    expect(thread).toHaveLength(burst.length);
    expect(thread[0]).toContain('applying');
    expect(thread[1]).toContain('applying (done: push)');
    expect(thread[2]).toContain('applied: qa/2026.11.25.1');
    expect(thread[3]).toContain('verifying');
    expect(thread[4]).toContain('succeeded: qa/2026.11.25.1 <@U0ASKER01>'); // the end mentions the requester
  });
});

describe('user names', () => {
  it('come from users.info (display name, else real name), cached; unknown users stay ids', async () => {
    fake.setUser('U0NAMED01', { name: 'dara', realName: 'Dara Dev', displayName: 'dara.d' });
    fake.setUser('U0NAMED02', { name: 'ben', realName: 'Ben Dev' });
    let now = 0;
    const directory = new SlackDirectory({ client, groups: [], clock: { now: () => new Date(now) } });
    expect(await directory.nameOf('U0NAMED01')).toBe('dara.d');
    expect(await directory.nameOf('U0NAMED02')).toBe('Ben Dev');
    expect(await directory.nameOf('U0NOBODY1')).toBeNull();
    const asked = fake.callsTo('users.info').length;
    fake.setUser('U0NAMED01', { name: 'dara', displayName: 'dara.renamed' });
    expect(await directory.nameOf('U0NAMED01')).toBe('dara.d');
    expect(fake.callsTo('users.info').length).toBe(asked);
    now = 11 * 60_000;
    expect(await directory.nameOf('U0NAMED01')).toBe('dara.renamed');
  });
});

describe('the gallery (docs/slack)', () => {
  it('is what `npm run slack:gallery` writes today, one Block Kit Builder payload per message kind', () => {
    const files = renderGallery();
    expect(Object.keys(files).sort()).toEqual(
      [
        'app-home',
        'applying',
        'approved',
        'awaiting-approval',
        'diff',
        'failed',
        'list',
        'request',
        'rolled-back',
        'soak-failure',
        'succeeded',
      ].map((n) => `${n}.json`),
    );
    for (const [name, text] of Object.entries(files))
      expect(readFileSync(join(GALLERY_DIR, name), 'utf8'), `${name}: run npm run slack:gallery`).toBe(text);
  });

  it('every payload passes the fake Slack Block Kit validation, and Slack takes each message', async () => {
    for (const [name, payload] of Object.entries(galleryPayloads())) {
      expect(blockErrors(payload.blocks, name === 'app-home.json' ? 100 : 50), name).toEqual([]);
      if (name === 'app-home.json') {
        expect(
          (
            await client.views.publish({
              user_id: 'U0GALLERY',
              view: { type: 'home', blocks: payload.blocks as never },
            })
          ).ok,
        ).toBe(true);
      } else {
        expect(payload.text, name).toBeTruthy();
        expect(
          (
            await client.chat.postMessage({
              channel: 'C0GALLERY',
              text: payload.text!,
              blocks: payload.blocks as never,
            })
          ).ok,
          name,
        ).toBe(true);
      }
    }
  });
});
