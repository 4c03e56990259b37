import { type WebAPIPlatformError, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReplyBlocks } from '../../src/adapters/slack-blocks.js';
import { SlackDirectory, SlackNotifier } from '../../src/adapters/slack-notifier.js';
import { NotAllowedError, UpstreamError } from '../../src/core/errors.js';
import { okReply } from '../../src/core/reply.js';
import { SlackFake, silentSlackLogger } from '../support/slack-fake.js';

const quick = { retries: 2, minTimeout: 0, maxTimeout: 1 };
let fake: SlackFake;
let client: WebClient;

const clientWith = (token: string | undefined, extra: object = {}) =>
  new WebClient(token, { slackApiUrl: fake.apiUrl, retryConfig: quick, logger: silentSlackLogger, ...extra });

async function slackError(promise: Promise<unknown>): Promise<WebAPIPlatformError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as WebAPIPlatformError;
}

beforeAll(async () => {
  fake = await SlackFake.start();
  client = clientWith(fake.token);
});
afterAll(() => fake.close());

describe('SlackFake: tokens and bodies', () => {
  it('answers invalid_auth for a wrong token and not_authed for none', async () => {
    expect((await slackError(clientWith('xoxb-wrong').auth.test())).data.error).toBe('invalid_auth');
    expect((await slackError(clientWith(undefined).auth.test())).data.error).toBe('not_authed');
    const me = await client.auth.test();
    expect(me.user_id).toBe(fake.botUserId);
  });

  it('accepts the token as a form field and JSON bodies with a bearer token', async () => {
    const form = await fetch(`${fake.apiUrl}auth.test`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: fake.token }).toString(),
    });
    expect(await form.json()).toMatchObject({ ok: true });
    const json = await fetch(`${fake.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${fake.token}` },
      body: JSON.stringify({ channel: 'CJSON0001', text: 'hi', blocks: [{ type: 'divider' }] }),
    });
    const body = (await json.json()) as { ok: boolean; ts: string };
    expect(body.ok).toBe(true);
    expect(fake.message('CJSON0001', body.ts)?.blocks).toEqual([{ type: 'divider' }]);
    expect(fake.callsTo('auth.test').every((c) => !('token' in c.args))).toBe(true);
  });
});

describe('SlackFake: messages', () => {
  it('stores messages and applies edits', async () => {
    const posted = await client.chat.postMessage({ channel: 'C0STORE01', text: 'first' });
    await client.chat.update({ channel: 'C0STORE01', ts: posted.ts!, text: 'second' });
    expect(fake.message('C0STORE01', posted.ts!)).toMatchObject({ text: 'second', edits: 1 });
    const missing = await slackError(client.chat.update({ channel: 'C0STORE01', ts: '1.000009', text: 'x' }));
    expect(missing.data.error).toBe('message_not_found');
  });

  it('answers not_in_channel for a channel the bot has left', async () => {
    fake.leaveChannel('C0PRIVATE');
    const err = await slackError(client.chat.postMessage({ channel: 'C0PRIVATE', text: 'x' }));
    expect(err.data.error).toBe('not_in_channel');
    fake.joinChannel('C0PRIVATE');
    await expect(client.chat.postMessage({ channel: 'C0PRIVATE', text: 'x' })).resolves.toMatchObject({
      ok: true,
    });
  });
});

describe('SlackFake: Block Kit limits', () => {
  const section = (n: number) => ({
    type: 'section' as const,
    text: { type: 'mrkdwn' as const, text: 'x'.repeat(n) },
  });
  const button = (text: string, value: string, id = 'a') => ({
    type: 'button' as const,
    action_id: id,
    text: { type: 'plain_text' as const, text },
    value,
  });
  const cases: [string, unknown[]][] = [
    ['51 blocks', Array.from({ length: 51 }, () => ({ type: 'divider' }))],
    ['section text of 3001 chars', [section(3001)]],
    ['header of 151 chars', [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }]],
    ['button text of 76 chars', [{ type: 'actions', elements: [button('b'.repeat(76), 'v')] }]],
    ['action value of 2001 chars', [{ type: 'actions', elements: [button('ok', 'v'.repeat(2001))] }]],
    ['26 elements', [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button('b', 'v', `a${i}`)) }]],
    ['duplicate action ids', [{ type: 'actions', elements: [button('b', 'v'), button('c', 'w')] }]],
  ];
  it.each(cases)('refuses %s with invalid_blocks', async (_name, blocks) => {
    const err = await slackError(client.chat.postMessage({ channel: 'C0LIMITS1', text: 'x', blocks: blocks as never }));
    expect(err.data.error).toBe('invalid_blocks');
  });

  it('accepts blocks at the limits, and refuses a home view of 101 blocks', async () => {
    const ok = [section(3000), ...Array.from({ length: 49 }, () => ({ type: 'divider' as const }))];
    await expect(client.chat.postMessage({ channel: 'C0LIMITS1', text: 'x', blocks: ok })).resolves.toMatchObject({
      ok: true,
    });
    const blocks = Array.from({ length: 101 }, () => ({ type: 'divider' as const }));
    const err = await slackError(client.views.publish({ user_id: 'U1', view: { type: 'home', blocks } }));
    expect(err.data.error).toBe('invalid_blocks');
    await client.views.publish({ user_id: 'U1', view: { type: 'home', blocks: blocks.slice(1) } });
    expect(fake.homeViews.get('U1')?.blocks).toHaveLength(100);
  });
});

describe('SlackFake: rate limits', () => {
  it('answers 429 with Retry-After, which WebClient waits for and retries', async () => {
    fake.rateLimitNext(1, 1, 'chat.postMessage');
    const before = fake.callsTo('chat.postMessage').length;
    const res = await client.chat.postMessage({ channel: 'C0RATE001', text: 'eventually' });
    expect(res.ok).toBe(true);
    const calls = fake.callsTo('chat.postMessage').slice(before);
    expect(calls.map((c) => c.outcome)).toEqual(['ratelimited', 'ok']);
  });

  it('lets a client that rejects rate-limited calls see the Retry-After', async () => {
    fake.rateLimitNext(1, 7);
    const strict = clientWith(fake.token, { rejectRateLimitedCalls: true });
    const err = (await slackError(strict.auth.test())) as unknown as { retryAfter: number };
    expect(err.retryAfter).toBe(7);
  });
});

describe('SlackNotifier and SlackDirectory over the fake', () => {
  it('posts rendered replies, threads and edits them', async () => {
    const notifier = new SlackNotifier(client);
    const reply = okReply('Promoted <!channel>', [{ type: 'text', text: 'by <@U1> & co' }]);
    const ref = await notifier.post({ channel: 'C0NOTIFY1', text: 'Promoted <!channel>', reply });
    expect(fake.message(ref.channel, ref.ts)?.text).toContain('&lt;!channel&gt;');
    expect(fake.message(ref.channel, ref.ts)?.blocks).toEqual(renderReplyBlocks(reply));
    const reply2 = await notifier.post({ channel: 'C0NOTIFY1', text: 'step 2', thread: ref });
    expect(fake.message(reply2.channel, reply2.ts)?.threadTs).toBe(ref.ts);
    await notifier.update(ref, { channel: 'C0NOTIFY1', text: 'Done' });
    expect(fake.message(ref.channel, ref.ts)).toMatchObject({ text: 'Done', edits: 1 });
  });

  it('says how to fix not_in_channel, and maps other failures without the token', async () => {
    const notifier = new SlackNotifier(client);
    fake.leaveChannel('C0NOTMEMB');
    const err = await notifier.post({ channel: 'C0NOTMEMB', text: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotAllowedError);
    expect((err as Error).message).toContain('/invite @Conveyor` in <#C0NOTMEMB>');
    const bad = new SlackNotifier(clientWith('xoxb-leaked-secret-1'));
    const upstream = await bad.post({ channel: 'C0NOTIFY1', text: 'x' }).catch((e: unknown) => e);
    expect(upstream).toBeInstanceOf(UpstreamError);
    expect((upstream as Error).message).toContain('invalid_auth');
    expect((upstream as Error).message).not.toContain('xoxb-leaked');
  });

  it('lists the groups a user is in, cached until the ttl passes', async () => {
    fake.setUserGroup('S0LEADS', ['U1', 'U2']);
    fake.setUserGroup('S0OPS', ['U2']);
    let now = 0;
    const directory = new SlackDirectory({
      client,
      groups: ['S0LEADS', 'S0OPS'],
      ttlMs: 1000,
      clock: { now: () => new Date(now) },
    });
    expect(await directory.groupsOf('U2')).toEqual(['S0LEADS', 'S0OPS']);
    expect(await directory.groupsOf('U1')).toEqual(['S0LEADS']);
    const calls = fake.callsTo('usergroups.users.list').length;
    fake.setUserGroup('S0OPS', ['U1']);
    expect(await directory.groupsOf('U1')).toEqual(['S0LEADS']);
    expect(fake.callsTo('usergroups.users.list').length).toBe(calls);
    now = 1500;
    expect(await directory.groupsOf('U1')).toEqual(['S0LEADS', 'S0OPS']);
  });
});
