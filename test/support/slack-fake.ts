/**
 * A fake Slack Web API on a loopback port, reached by @slack/web-api and Bolt through
 * `slackApiUrl` (`fake.apiUrl`). It checks the bot token, parses form and JSON bodies like
 * Slack, enforces the Block Kit limits (answering `invalid_blocks`), stores messages with their
 * edits, records every call, and can be told to answer `not_in_channel` or `ratelimited`.
 * It also serves `response_url`s (`fake.responseUrl()`), recording what `respond()` sends;
 * a post with `replace_original: true` replaces the message that URL posted before, as Slack
 * does (`visibleResponses` is what the user sees). `conversations.history` returns a channel's
 * messages newest first, with their message metadata when `include_all_metadata` is set.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, LogLevel } from '@slack/web-api';

/** A logger for WebClients pointed at the fake: the tests provoke errors on purpose. */
export const silentSlackLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => LogLevel.ERROR,
  setName() {},
};

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: Date;
  /** What the fake answered (`ok` or the error code). */
  outcome: string;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  threadTs?: string;
  /** How many times chat.update changed it. */
  edits: number;
  /** Message metadata (`{ event_type, event_payload }`) posted with it. */
  metadata?: Record<string, unknown>;
}

export interface StoredEphemeral {
  channel: string;
  user: string;
  text: string;
  blocks: unknown[];
}

export interface StoredResponse {
  id: string;
  body: Record<string, unknown>;
  /** A later post to the same response_url with `replace_original: true` replaced this one. */
  replaced?: boolean;
}

export interface SlackFakeOptions {
  token?: string;
  botUserId?: string;
  botId?: string;
  teamId?: string;
}

type Args = Record<string, unknown>;

export interface FakeUser {
  id: string;
  /** The handle (`name`). */
  name: string;
  realName?: string;
  displayName?: string;
}
type Answer = { ok: true; [k: string]: unknown } | { ok: false; error: string; [k: string]: unknown };

export class SlackFake {
  readonly token: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly calls: SlackCall[] = [];
  readonly ephemerals: StoredEphemeral[] = [];
  readonly responses: StoredResponse[] = [];
  /** Home views published, last one per user. */
  readonly homeViews = new Map<string, { blocks: unknown[] }>();
  readonly openedViews: { triggerId: string; view: Record<string, unknown> }[] = [];
  private readonly messages = new Map<string, StoredMessage>();
  private readonly userGroups = new Map<string, string[]>();
  private readonly channels = new Map<string, { name: string; isPrivate: boolean }>();
  private readonly users = new Map<string, FakeUser>();
  private readonly notMember = new Set<string>();
  private readonly failures = new Map<string, string>();
  private rateLimit = { remaining: 0, retryAfter: 1, method: undefined as string | undefined };
  private readonly stalls = new Map<string, number>();
  private readonly delays = new Map<string, number>();
  /** Requests taken and never answered (see `stallAfterTaking`). */
  stalled = 0;
  private seq = 0;
  private server!: Server;
  baseUrl = '';

  private constructor(options: SlackFakeOptions) {
    this.token = options.token ?? 'xoxb-fake-token';
    this.botUserId = options.botUserId ?? 'UBOT0001';
    this.botId = options.botId ?? 'BBOT0001';
    this.teamId = options.teamId ?? 'T0000001';
  }

  static async start(options: SlackFakeOptions = {}): Promise<SlackFake> {
    const fake = new SlackFake(options);
    fake.server = createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    fake.baseUrl = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The value for `slackApiUrl`. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  /** A response_url served by this fake; what is posted to it lands in `responses`. */
  responseUrl(id = `r${++this.seq}`): string {
    return `${this.baseUrl}/response/${id}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------ configuration

  /** chat.* to this channel answers `not_in_channel` (until `joinChannel`). */
  leaveChannel(channel: string): void {
    this.notMember.add(channel);
  }

  joinChannel(channel: string): void {
    this.notMember.delete(channel);
  }

  /** The next `count` calls (to `method`, or any) get HTTP 429 with `Retry-After`. */
  rateLimitNext(count: number, retryAfterSec = 1, method?: string): void {
    this.rateLimit = { remaining: count, retryAfter: retryAfterSec, method };
  }

  /**
   * The next `count` requests to `target` (a method name, or `response_url`) are carried out
   * (the message is stored) but never answered: the caller dies or times out not knowing
   * whether Slack has it, as when a process is killed inside the call.
   */
  stallAfterTaking(target: string, count = 1): void {
    this.stalls.set(target, (this.stalls.get(target) ?? 0) + count);
  }

  /**
   * The next call to `method` is carried out at once but answered only after `ms` (a slow
   * network): the caller does not know the message's ts until then.
   */
  delayAnswer(method: string, ms: number): void {
    this.delays.set(method, ms);
  }

  private stallNow(target: string): boolean {
    const left = this.stalls.get(target) ?? 0;
    if (left <= 0) return false;
    this.stalls.set(target, left - 1);
    this.stalled += 1;
    return true;
  }

  /** Every call to `method` answers `{ ok: false, error }` (until `failMethod(method, null)`). */
  failMethod(method: string, error: string | null): void {
    if (error === null) this.failures.delete(method);
    else this.failures.set(method, error);
  }

  setUserGroup(groupId: string, users: string[]): void {
    this.userGroups.set(groupId, [...users]);
  }

  /** A channel `conversations.list` names (e.g. `addChannel('C0PROD001', 'deploys-prod')`). */
  addChannel(id: string, name: string, isPrivate = false): void {
    this.channels.set(id, { name: name.replace(/^#/, ''), isPrivate });
  }

  /** A workspace member `users.info` answers for. */
  setUser(id: string, user: Omit<FakeUser, 'id'>): void {
    this.users.set(id, { id, ...user });
  }

  /** The permalink chat.getPermalink answers for a message. */
  permalink(channel: string, ts: string): string {
    return `https://fake.slack.com/archives/${channel}/p${ts.replace('.', '')}`;
  }

  // ------------------------------------------------------------ assertions

  /** What a response_url's messages look like to the user: those not replaced by a later post. */
  visibleResponses(id: string): StoredResponse[] {
    return this.responses.filter((r) => r.id === id && !r.replaced);
  }

  callsTo(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(`${channel}/${ts}`);
  }

  messagesIn(channel?: string): StoredMessage[] {
    return [...this.messages.values()].filter((m) => channel === undefined || m.channel === channel);
  }

  // ------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', this.baseUrl);
    if (req.method === 'POST' && url.pathname.startsWith('/response/')) {
      const body = parseBody(raw, req.headers['content-type']);
      const errors = Array.isArray(body.blocks) ? blockErrors(body.blocks, 50) : [];
      if (errors.length > 0) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_blocks');
        return;
      }
      const id = url.pathname.slice('/response/'.length);
      if (body.replace_original === true || body.replace_original === 'true') {
        const earlier = this.visibleResponses(id).at(-1);
        if (earlier) earlier.replaced = true;
      }
      this.responses.push({ id, body });
      if (this.stallNow('response_url')) return;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const match = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const method = match[1]!; // the pattern's one group always takes part
    const args = parseBody(raw, req.headers['content-type']);
    const call: SlackCall = { method, args: withoutToken(args), at: new Date(), outcome: 'ok' };
    this.calls.push(call);
    if (this.rateLimit.remaining > 0 && (!this.rateLimit.method || this.rateLimit.method === method)) {
      this.rateLimit.remaining -= 1;
      call.outcome = 'ratelimited';
      res.writeHead(429, {
        'content-type': 'application/json',
        'retry-after': String(this.rateLimit.retryAfter),
      });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      return;
    }
    const answer = this.answer(method, args, req.headers.authorization);
    call.outcome = answer.ok ? 'ok' : answer.error;
    if (this.stallNow(method)) return;
    const delay = this.delays.get(method);
    if (delay) {
      this.delays.delete(method);
      await new Promise((r) => setTimeout(r, delay));
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer));
  }

  private answer(method: string, args: Args, authorization: string | undefined): Answer {
    const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    if (!token) return { ok: false, error: 'not_authed' };
    if (token !== this.token) return { ok: false, error: 'invalid_auth' };
    const failure = this.failures.get(method);
    if (failure) return { ok: false, error: failure };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.com/',
          team: 'Fake',
          user: 'conveyor',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
        };
      case 'chat.postMessage':
        return this.postMessage(args);
      case 'chat.update':
        return this.update(args);
      case 'chat.postEphemeral':
        return this.postEphemeral(args);
      case 'views.publish':
        return this.publish(args);
      case 'views.open':
        return this.open(args);
      case 'usergroups.users.list': {
        const users = this.userGroups.get(String(args.usergroup ?? ''));
        return users ? { ok: true, users } : { ok: false, error: 'no_such_subteam' };
      }
      case 'conversations.history':
        return this.history(args);
      case 'conversations.list':
        return this.listChannels(args);
      case 'chat.getPermalink': {
        const channel = str(args.channel);
        const ts = str(args.message_ts);
        if (!this.messages.has(`${channel}/${ts}`)) return { ok: false, error: 'message_not_found' };
        return { ok: true, channel, permalink: this.permalink(channel, ts) };
      }
      case 'users.info':
        return this.userInfo(args);
      case 'conversations.info': {
        const channel = String(args.channel ?? '');
        if (!channel) return { ok: false, error: 'channel_not_found' };
        return {
          ok: true,
          channel: { id: channel, name: channel.toLowerCase(), is_member: !this.notMember.has(channel) },
        };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private checkMessage(args: Args, needText: boolean): Answer | null {
    const channel = str(args.channel);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    if (this.notMember.has(channel)) return { ok: false, error: 'not_in_channel' };
    const blocks = args.blocks;
    if (blocks !== undefined) {
      const errors = Array.isArray(blocks) ? blockErrors(blocks, 50) : ['blocks must be an array'];
      if (errors.length > 0) return invalidBlocks(errors);
    }
    const text = str(args.text);
    if (needText && !text && !(Array.isArray(blocks) && blocks.length > 0)) return { ok: false, error: 'no_text' };
    if (text.length > 40_000) return { ok: false, error: 'msg_too_long' };
    return null;
  }

  private postMessage(args: Args): Answer {
    const problem = this.checkMessage(args, true);
    if (problem) return problem;
    const channel = str(args.channel);
    const threadTs = str(args.thread_ts) || undefined;
    if (threadTs && !this.messages.has(`${channel}/${threadTs}`)) return { ok: false, error: 'thread_not_found' };
    // Slack's ts is the post time in seconds, unique per channel.
    const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, '0')}`;
    const metadata = asObject(args.metadata);
    const stored: StoredMessage = {
      channel,
      ts,
      text: str(args.text),
      blocks: arr(args.blocks),
      threadTs,
      edits: 0,
      ...(metadata ? { metadata } : {}),
    };
    this.messages.set(`${channel}/${ts}`, stored);
    return { ok: true, channel, ts, message: this.asSlackMessage(stored) };
  }

  /** conversations.history: newest first, `oldest`/`latest` exclusive bounds, cursor paging. */
  private history(args: Args): Answer {
    const channel = str(args.channel);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    if (this.notMember.has(channel)) return { ok: false, error: 'not_in_channel' };
    const oldest = Number(str(args.oldest) || 0);
    const latest = Number(str(args.latest) || Number.POSITIVE_INFINITY);
    const limit = Math.min(Math.max(Number(str(args.limit) || 100), 1), 999);
    const offset = Number(str(args.cursor).replace(/^c/, '') || 0);
    const withMeta = args.include_all_metadata === true || args.include_all_metadata === 'true';
    const all = [...this.messages.values()]
      .filter((m) => m.channel === channel && !m.threadTs && Number(m.ts) > oldest && Number(m.ts) < latest)
      .sort((a, b) => Number(b.ts) - Number(a.ts));
    const page = all.slice(offset, offset + limit).map((m) => {
      const message = this.asSlackMessage(m);
      if (withMeta && m.metadata) message.metadata = m.metadata;
      return message;
    });
    const more = offset + limit < all.length;
    return {
      ok: true,
      messages: page,
      has_more: more,
      pin_count: 0,
      response_metadata: { next_cursor: more ? `c${offset + limit}` : '' },
    };
  }

  /** conversations.list as Slack answers it: `channels` with id, name, is_private, is_member; cursor paging. */
  private listChannels(args: Args): Answer {
    const types = (str(args.types) || 'public_channel').split(',');
    const limit = Math.min(Math.max(Number(str(args.limit) || 100), 1), 1000);
    const offset = Number(str(args.cursor).replace(/^c/, '') || 0);
    const all = [...this.channels.entries()]
      .filter(([, c]) => types.includes(c.isPrivate ? 'private_channel' : 'public_channel'))
      .map(([id, c]) => ({
        id,
        name: c.name,
        is_channel: !c.isPrivate,
        is_private: c.isPrivate,
        is_archived: false,
        is_member: !this.notMember.has(id),
      }));
    const more = offset + limit < all.length;
    return {
      ok: true,
      channels: all.slice(offset, offset + limit),
      response_metadata: { next_cursor: more ? `c${offset + limit}` : '' },
    };
  }

  /** users.info as Slack documents it: `user` with `name`, `real_name` and `profile.display_name`/`real_name`. */
  private userInfo(args: Args): Answer {
    const user = this.users.get(str(args.user));
    if (!user) return { ok: false, error: 'user_not_found' };
    return {
      ok: true,
      user: {
        id: user.id,
        team_id: this.teamId,
        name: user.name,
        deleted: false,
        real_name: user.realName ?? '',
        tz: 'Europe/Zurich',
        is_bot: false,
        profile: {
          real_name: user.realName ?? '',
          display_name: user.displayName ?? '',
          real_name_normalized: user.realName ?? '',
          display_name_normalized: user.displayName ?? '',
        },
      },
    };
  }

  private update(args: Args): Answer {
    const problem = this.checkMessage(args, false);
    if (problem) return problem;
    const stored = this.messages.get(`${str(args.channel)}/${str(args.ts)}`);
    if (!stored) return { ok: false, error: 'message_not_found' };
    if (args.text !== undefined) stored.text = str(args.text);
    if (args.blocks !== undefined) stored.blocks = arr(args.blocks);
    stored.edits += 1;
    return {
      ok: true,
      channel: stored.channel,
      ts: stored.ts,
      text: stored.text,
      message: this.asSlackMessage(stored),
    };
  }

  private postEphemeral(args: Args): Answer {
    const problem = this.checkMessage(args, true);
    if (problem) return problem;
    if (!str(args.user)) return { ok: false, error: 'user_not_in_channel' };
    this.ephemerals.push({
      channel: str(args.channel),
      user: str(args.user),
      text: str(args.text),
      blocks: arr(args.blocks),
    });
    return { ok: true, message_ts: `${1_700_000_000}.${String(++this.seq).padStart(6, '0')}` };
  }

  private publish(args: Args): Answer {
    const userId = str(args.user_id);
    if (!userId) return { ok: false, error: 'invalid_arguments' };
    const view = asView(args.view);
    if (view?.type !== 'home') return { ok: false, error: 'invalid_arguments' };
    const errors = viewErrors(view);
    if (errors.length > 0) return invalidBlocks(errors);
    this.homeViews.set(userId, { blocks: arr(view.blocks) });
    return { ok: true, view: { id: `V${++this.seq}`, type: 'home', blocks: view.blocks } };
  }

  private open(args: Args): Answer {
    const triggerId = str(args.trigger_id);
    if (!triggerId) return { ok: false, error: 'invalid_arguments' };
    const view = asView(args.view);
    if (view?.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
    const errors = viewErrors(view);
    if (errors.length > 0) return invalidBlocks(errors);
    this.openedViews.push({ triggerId, view });
    return { ok: true, view: { id: `V${++this.seq}`, ...view } };
  }

  private asSlackMessage(m: StoredMessage): Record<string, unknown> {
    return {
      type: 'message',
      user: this.botUserId,
      bot_id: this.botId,
      text: m.text,
      blocks: m.blocks,
      ts: m.ts,
    };
  }
}

function invalidBlocks(errors: string[]): Answer {
  return {
    ok: false,
    error: 'invalid_blocks',
    errors,
    response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Slack accepts form bodies (JSON-encoded fields such as `blocks`) and JSON bodies. */
function parseBody(raw: string, contentType: string | undefined): Args {
  if (raw.length === 0) return {};
  if ((contentType ?? '').includes('application/json')) {
    const parsed = JSON.parse(raw) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Args) : {};
  }
  const args: Args = Object.fromEntries(new URLSearchParams(raw));
  for (const key of ['blocks', 'view', 'attachments', 'metadata']) {
    const value = args[key];
    if (typeof value === 'string') {
      try {
        args[key] = JSON.parse(value);
      } catch {
        // Slack answers invalid_arguments; the validators below see a string and refuse it.
      }
    }
  }
  return args;
}

function withoutToken(args: Args): Args {
  const { token: _token, ...rest } = args;
  return rest;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function asView(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

// ------------------------------------------------------------ Block Kit limits (as Slack documents them)

const LIMITS = {
  section: 3000,
  header: 150,
  button: 75,
  value: 2000,
  actionId: 255,
  elements: 25,
  context: 10,
  fields: 10,
  field: 2000,
};

/** What Slack would say about these blocks; empty when they are valid. */
export function blockErrors(blocks: unknown[], maxBlocks: number): string[] {
  const errors: string[] = [];
  if (blocks.length > maxBlocks) errors.push(`no more than ${maxBlocks} items allowed [json-pointer:/blocks]`);
  const blockIds = new Set<string>();
  for (const [i, b] of blocks.entries()) {
    const at = `[json-pointer:/blocks/${i}]`;
    const block = asView(b);
    if (!block) {
      errors.push(`must be an object ${at}`);
      continue;
    }
    if (typeof block.block_id === 'string') {
      if (blockIds.has(block.block_id)) errors.push(`duplicate block_id ${at}`);
      blockIds.add(block.block_id);
    }
    switch (block.type) {
      case 'section': {
        const text = asView(block.text);
        if (!text && !Array.isArray(block.fields)) errors.push(`must provide text or fields ${at}`);
        if (text) errors.push(...textErrors(text, LIMITS.section, `${at}/text`));
        if (block.fields !== undefined) {
          const fields = arr(block.fields);
          if (fields.length === 0 || fields.length > LIMITS.fields)
            errors.push(`must have 1 to ${LIMITS.fields} fields ${at}/fields`);
          for (const [j, f] of fields.entries())
            errors.push(...textErrors(asView(f) ?? {}, LIMITS.field, `${at}/fields/${j}`));
        }
        break;
      }
      case 'header': {
        const text = asView(block.text);
        if (text?.type !== 'plain_text') errors.push(`must be a plain_text object ${at}/text`);
        else errors.push(...textErrors(text, LIMITS.header, `${at}/text`));
        break;
      }
      case 'actions': {
        const elements = arr(block.elements);
        if (elements.length === 0 || elements.length > LIMITS.elements)
          errors.push(`must have 1 to ${LIMITS.elements} elements ${at}/elements`);
        const ids = new Set<string>();
        elements.forEach((e, j) => {
          const el = asView(e) ?? {};
          const where = `${at}/elements/${j}`;
          const id = str(el.action_id);
          if (id.length > LIMITS.actionId) errors.push(`action_id too long ${where}`);
          if (id && ids.has(id)) errors.push(`duplicate action_id ${where}`);
          ids.add(id);
          if (el.type === 'button') {
            const text = asView(el.text);
            if (text?.type !== 'plain_text') errors.push(`must be a plain_text object ${where}/text`);
            else errors.push(...textErrors(text, LIMITS.button, `${where}/text`));
            if (str(el.value).length > LIMITS.value)
              errors.push(`must be less than ${LIMITS.value + 1} characters ${where}/value`);
          }
        });
        break;
      }
      case 'context': {
        const elements = arr(block.elements);
        if (elements.length === 0 || elements.length > LIMITS.context) errors.push(`must have 1 to 10 elements ${at}`);
        elements.forEach((e, j) => {
          const el = asView(e);
          if (el && (el.type === 'mrkdwn' || el.type === 'plain_text'))
            errors.push(...textErrors(el, LIMITS.section, `${at}/elements/${j}`));
        });
        break;
      }
      case 'divider':
        break;
      case 'input':
        if (!asView(block.label) || !asView(block.element)) errors.push(`must provide label and element ${at}`);
        break;
      default:
        errors.push(`unsupported type ${JSON.stringify(block.type)} ${at}`);
    }
  }
  return errors;
}

/** views.publish / views.open checks: ≤ 100 blocks, modal title/submit/close ≤ 24 chars. */
export function viewErrors(view: Record<string, unknown>): string[] {
  const errors = Array.isArray(view.blocks)
    ? blockErrors(view.blocks, 100)
    : ['must provide blocks [json-pointer:/view/blocks]'];
  if (view.type === 'modal') {
    for (const key of ['title', 'submit', 'close']) {
      const text = asView(view[key]);
      if (key === 'title' && !text) errors.push('must provide a title [json-pointer:/view/title]');
      if (text) errors.push(...textErrors(text, 24, `[json-pointer:/view/${key}]`));
    }
    if (str(view.private_metadata).length > 3000) errors.push('private_metadata too long [json-pointer:/view]');
  }
  return errors;
}

function textErrors(text: Record<string, unknown>, max: number, at: string): string[] {
  const value = str(text.text);
  if (text.type !== 'mrkdwn' && text.type !== 'plain_text') return [`must be a text object ${at}`];
  if (value.length === 0) return [`must be more than 0 characters ${at}`];
  if (value.length > max) return [`must be less than ${max + 1} characters ${at}`];
  return [];
}
