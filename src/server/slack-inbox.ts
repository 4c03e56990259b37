/**
 * The worker behind the durable inbox (src/store/inbox-store.ts): runs each accepted Slack
 * request through the CommandService, stores the reply, then delivers it — through the
 * request's `response_url` while Slack keeps it valid (30 minutes), in the channel after that.
 * A sweep at start and every few seconds picks up what a dead process accepted and never
 * finished, so an acked command always gets its answer.
 *
 * Delivery is exactly once as the user sees it. Before a reply goes to Slack, a `begin` line
 * for its id is appended to a local delivery log (one small write, no database round trip);
 * right after Slack takes it, a `done` line. A process killed before the inbox row says "done"
 * then does not deliver again; one killed inside the Web API call itself (Slack may or may not
 * have the reply) resumes with the `begin` line and no `done`, and delivers so that a first
 * copy cannot show twice:
 *   - through the `response_url`, with `replace_original: true` (Slack replaces the message
 *     that response_url posted, if it did);
 *   - in the channel, by first looking for its own earlier post: every reply carries message
 *     metadata naming its request, and `conversations.history` finds it (needs the
 *     `channels:history`/`groups:history` scopes; without them, or for ephemeral messages,
 *     which Slack cannot look up, the resume posts again and says so in the log).
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { WebClient } from '@slack/web-api';
import { request } from 'undici';
import { escapeMrkdwn, renderReplyBlocks, renderReplyText, statusEmoji } from '../adapters/slack-blocks.js';
import { SlackChannels } from '../adapters/slack-channels.js';
import { toSlackError } from '../adapters/slack-notifier.js';
import type { CommandService } from '../core/command-service.js';
import type { Reply } from '../core/reply.js';
import { INBOX_MAX_ATTEMPTS, type InboxItem, type InboxStore } from '../store/inbox-store.js';
import type { AcceptLog, LoggedRequest } from './slack-accept-log.js';

/** What a slash command leaves in the inbox. */
export interface CommandPayload {
  text: string;
  user: string;
  channel: string;
  channelName?: string;
  responseUrl: string;
}

/** An approve click or a reject submission: the command it stands for and where to answer. */
export interface ActionPayload {
  text: string;
  user: string;
  channel?: string;
  fromHome?: boolean;
}

export interface InboxWorkerLog {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface SlackInboxDeps {
  inbox: InboxStore;
  worker: string;
  service: CommandService;
  client: WebClient;
  log: InboxWorkerLog;
  /** A short line for an error (known errors as they are, others with an id). */
  failureLine(err: unknown): string;
  tellUser(client: WebClient, user: string, channel: string | undefined, reply: Reply | string): Promise<void>;
  publishHome(client: WebClient, user: string): Promise<void>;
  /** Run a task when a work slot is free (the Slack app's bounded queue). */
  schedule(task: () => Promise<void>): void;
  /** POST a JSON body; resolves with the HTTP status once the answer's body is read. */
  postJson?: (url: string, body: string) => Promise<number>;
  now?: () => number;
  /** Append-only file of delivered ids (beside the embedded store); none: the inbox row alone. */
  deliveryLog?: string;
  /**
   * The embedded store's write-ahead (./slack-accept-log.ts): a request is acked once logged,
   * and its row is written by the work that runs it. None (PostgreSQL): the row before the ack.
   */
  acceptLog?: AcceptLog;
  /** The channel (name or id) an operation's message belongs in: its environment's, from the configuration. */
  homeChannel?: (operation: { kind?: string; env?: string }) => string | undefined;
  /** Channel names to ids (default: conversations.list over `client`, cached). */
  channels?: SlackChannels;
}

/** Slack keeps a response_url for 30 minutes; answer through it only well inside that. */
export const RESPONSE_URL_TTL_MS = 29 * 60_000;
/**
 * A response_url POST through undici's `request` (Node's `fetch` costs several times more
 * per call: web streams, abort signals), over its global keep-alive pool.
 */
async function postJson(url: string, body: string): Promise<number> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await res.body.dump();
  return res.statusCode;
}

/** The message-metadata event type on every reply Conveyor posts for a request. */
export const REPLY_EVENT = 'conveyor_reply';
const CLAIM_MS = 5 * 60_000;

export class SlackInboxWorker {
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly postJson: (url: string, body: string) => Promise<number>;
  private readonly channels: SlackChannels;

  /** Ids whose reply Slack has taken. */
  private readonly delivered = new Set<string>();
  /** Acked and logged, their rows not written yet (id → when acked): the work that runs each writes it. */
  private readonly toStore = new Map<string, number>();
  /**
   * Logged requests whose rows the next sweep writes: what a stopped process left (`replay`) and
   * any whose write failed here.
   */
  private readonly leftovers = new Map<string, { entry: LoggedRequest; replay: boolean }>();
  private replayPending = false;
  /** Ids whose reply was on its way to Slack (a `begin` line): a resume must not show it twice. */
  private readonly begun = new Set<string>();

  constructor(private readonly d: SlackInboxDeps) {
    this.now = d.now ?? Date.now;
    this.postJson = d.postJson ?? postJson;
    this.channels = d.channels ?? new SlackChannels(d.client);
    if (d.acceptLog) {
      for (const entry of d.acceptLog.leftover()) this.leftovers.set(entry.id, { entry, replay: true });
      this.replayPending = true;
    }
    if (d.deliveryLog && existsSync(d.deliveryLog)) {
      for (const line of readFileSync(d.deliveryLog, 'utf8').split('\n')) {
        if (line.startsWith('b ')) this.begun.add(line.slice(2));
        else if (line.startsWith('x ')) this.begun.delete(line.slice(2));
        else if (line.startsWith('d ')) this.delivered.add(line.slice(2));
        else if (line) this.delivered.add(line); // the log's first format: bare delivered ids
      }
    }
  }

  private append(line: string): void {
    if (this.d.deliveryLog) appendFileSync(this.d.deliveryLog, `${line}\n`, { mode: 0o600 });
  }

  /**
   * Record that a reply is about to go to Slack; true when an earlier process already sent it
   * off and died before hearing back (the caller then delivers without a second copy).
   */
  private markBegun(id: string, route: 'url' | 'channel' | 'link'): boolean {
    const key = `${route}:${id}`;
    const again = this.begun.has(key);
    if (!again) {
      this.begun.add(key);
      this.append(`b ${key}`);
    }
    return again;
  }

  /**
   * Slack answered that it did not take the reply (an HTTP error status, a platform error): the
   * next attempt is a first delivery again, not a replacement of a copy that does not exist.
   */
  private markRefused(id: string, route: 'url' | 'channel' | 'link'): void {
    const key = `${route}:${id}`;
    if (this.begun.delete(key)) this.append(`x ${key}`);
  }

  /** Record that Slack has this item's reply: one small append, private to this user. */
  private markDelivered(id: string): void {
    this.delivered.add(id);
    this.begun.delete(`url:${id}`);
    this.begun.delete(`channel:${id}`);
    this.begun.delete(`link:${id}`);
    this.append(`d ${id}`);
  }

  /** Forget ids whose items are finished (called after a sweep found nothing open). */
  private compact(): void {
    if (!this.d.deliveryLog || this.delivered.size + this.begun.size < 1000) return;
    const keepDone = [...this.delivered].filter((id) => this.inFlight.has(id));
    const keepBegun = [...this.begun].filter((key) => this.inFlight.has(key.slice(key.indexOf(':') + 1)));
    this.delivered.clear();
    this.begun.clear();
    for (const id of keepDone) this.delivered.add(id);
    for (const id of keepBegun) this.begun.add(id);
    const lines = [...keepBegun.map((id) => `b ${id}`), ...keepDone.map((id) => `d ${id}`)];
    writeFileSync(this.d.deliveryLog, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  }

  /**
   * Write a request down before its ack; false for a retry of one accepted before (nothing to
   * do). Without an accept log, its row, born claimed by this worker, which runs it next. With
   * one, its line: the row is written when it runs (`store`), and a retry of a request a stopped
   * process took is found out then.
   */
  accept(id: string, kind: 'command' | 'action', payload: CommandPayload | ActionPayload): Promise<boolean> {
    const log = this.d.acceptLog;
    if (!log) {
      return this.d.inbox.accept(id, kind, payload as unknown as Record<string, unknown>, {
        worker: this.d.worker,
        ms: CLAIM_MS,
      });
    }
    // A retry of a request this process holds: its first delivery answers it.
    if (this.inFlight.has(id) || this.toStore.has(id) || this.leftovers.has(id)) return Promise.resolve(false);
    try {
      const at = this.now();
      log.append({ id, kind, payload: payload as unknown as Record<string, unknown>, at });
      this.toStore.set(id, at);
      return Promise.resolve(true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The row of a request acked through the accept log, born claimed by this worker; false when
   * the store had it already (a retry of one a stopped process took) or the write failed (the
   * next sweep writes it from the log).
   */
  private async store(id: string, accepted: InboxItem): Promise<boolean> {
    const at = this.toStore.get(id)!;
    this.toStore.delete(id);
    let fresh: boolean;
    try {
      fresh = await this.d.inbox.accept(
        id,
        accepted.kind,
        accepted.payload,
        { worker: this.d.worker, ms: CLAIM_MS },
        new Date(at),
      );
    } catch (err) {
      const entry = { id, kind: accepted.kind as LoggedRequest['kind'], payload: accepted.payload, at };
      this.leftovers.set(id, { entry, replay: false });
      this.d.log.warn({ err, id }, 'inbox: could not store an acked request; the next sweep tries again');
      return false;
    }
    this.d.acceptLog?.settle();
    if (!fresh) this.d.log.info({ id }, 'a redelivered request: the first delivery answers it; not posting again');
    return fresh;
  }

  /** Write the rows of logged requests that have none yet (unclaimed: the sweep then runs them). */
  private async storeLeftovers(): Promise<void> {
    const entries = [...this.leftovers.values()];
    const results = await Promise.allSettled(
      entries.map(({ entry }) => this.d.inbox.accept(entry.id, entry.kind, entry.payload, null, new Date(entry.at))),
    );
    for (const [i, r] of results.entries()) {
      const { entry, replay } = entries[i]!;
      if (r.status === 'rejected') continue;
      this.leftovers.delete(entry.id);
      if (!replay) this.d.acceptLog?.settle();
    }
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed) this.d.log.warn({ failed }, 'inbox: acked requests still without a row; the next sweep tries again');
    if (this.replayPending && ![...this.leftovers.values()].some((l) => l.replay)) {
      this.replayPending = false;
      this.d.acceptLog?.replayed();
    }
  }

  /**
   * Queue an item to run. `fresh`: the item this process just accepted (born claimed by it),
   * run without reading it back; otherwise it is claimed from the store first.
   */
  enqueue(id: string, fresh?: { kind: 'command' | 'action'; payload: CommandPayload | ActionPayload }): void {
    if (this.inFlight.has(id)) return;
    this.inFlight.add(id);
    const item: InboxItem | undefined = fresh && {
      id,
      kind: fresh.kind,
      payload: fresh.payload as unknown as Record<string, unknown>,
      state: 'accepted',
      reply: null,
      attempts: 1,
      acceptedAt: new Date(this.now()).toISOString(),
    };
    this.d.schedule(() => this.process(id, item).finally(() => this.inFlight.delete(id)));
  }

  /** Queue every unfinished item nobody holds. */
  async sweep(): Promise<number> {
    if (this.leftovers.size || this.replayPending) await this.storeLeftovers();
    const ids = await this.d.inbox.open(200);
    for (const id of ids) this.enqueue(id);
    if (ids.length === 0 && this.inFlight.size === 0) this.compact();
    return ids.length;
  }

  start(everyMs = 5_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.d.log.warn({ err }, 'inbox sweep failed'));
    }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.d.inbox.flushDone();
    this.d.acceptLog?.close();
  }

  async process(id: string, accepted?: InboxItem): Promise<void> {
    const { inbox, worker, log } = this.d;
    if (accepted && this.toStore.has(id) && !(await this.store(id, accepted))) return;
    // An item accepted here is born claimed by this worker; one that waited in the queue past
    // half its claim is claimed again first, so another replica's sweep never runs it as well.
    const waitedLong = accepted && this.now() - Date.parse(accepted.acceptedAt) > CLAIM_MS / 2;
    const item = accepted && !waitedLong ? accepted : await inbox.claim(id, worker, CLAIM_MS);
    if (!item) return;
    try {
      if (this.delivered.has(id)) {
        // Slack has the reply; only the inbox row was not told before the process stopped.
        await inbox.finish(id, 'done');
        return;
      }
      // A command run again after a restart answers as before: mutating commands replay the
      // reply the dispatcher stored under this id, reads simply run again (logged once).
      const reply = item.state === 'delivering' && item.reply ? (item.reply as Reply) : await this.run(item);
      if (item.kind === 'command') await this.deliverCommand(item as unknown as InboxItem<CommandPayload>, reply);
      else await this.deliverAction(item as unknown as InboxItem<ActionPayload>, reply);
      inbox.finishSoon(id);
    } catch (err) {
      const message = (err as Error)?.message?.slice(0, 300) ?? String(err);
      if (item.attempts >= INBOX_MAX_ATTEMPTS) {
        log.error({ err, id }, 'a Slack request failed on every attempt; giving up');
        await inbox.finish(id, 'failed', message);
        const p = item.payload as unknown as ActionPayload;
        await this.d.tellUser(this.d.client, p.user, p.channel, this.d.failureLine(err)).catch(() => undefined);
      } else {
        log.warn({ err: message, id, attempt: item.attempts }, 'a Slack request failed; the inbox sweep tries again');
        await inbox.release(id, worker, message);
      }
    }
  }

  private run(item: InboxItem): Promise<Reply> {
    const p = item.payload as unknown as ActionPayload;
    return this.d.service.execute({
      text: p.text,
      user: p.user,
      channel: p.channel,
      idempotencyKey: item.id,
      source: 'slack',
    });
  }

  /** Privately to the asker: response_url while valid, else an ephemeral message in the channel. */
  private async answerPrivately(item: InboxItem<CommandPayload>, reply: Reply | string): Promise<void> {
    const p = item.payload;
    const fresh = this.now() - Date.parse(item.acceptedAt) < RESPONSE_URL_TTL_MS;
    if (!fresh) {
      await this.d.tellUser(this.d.client, p.user, p.channel, reply);
      return this.markDelivered(item.id);
    }
    const message =
      typeof reply === 'string' ? { text: reply } : { text: renderReplyText(reply), blocks: renderReplyBlocks(reply) };
    // Sent off before by a process that died waiting for Slack's answer: replace that message
    // (if Slack has it) rather than add a second one.
    const again = this.markBegun(item.id, 'url');
    if (again)
      this.d.log.info({ id: item.id }, 'inbox: delivering again a reply that may have reached Slack; replacing it');
    const status = await this.postJson(
      p.responseUrl,
      JSON.stringify({ response_type: 'ephemeral', replace_original: again, ...message }),
    );
    if (status < 200 || status > 299) {
      this.markRefused(item.id, 'url');
      throw new Error(`response_url answered HTTP ${status}`);
    }
    this.markDelivered(item.id);
  }

  /**
   * An answer for the channel. An operation's message goes to its environment's channel (the
   * configuration's `environments[].channel`, resolved to an id); typed elsewhere, the channel it
   * was typed in gets a short line linking to it. Each post is made once as the user sees it.
   */
  private async deliverCommand(item: InboxItem<CommandPayload>, reply: Reply): Promise<void> {
    const p = item.payload;
    // approve/reject typed as a command: the operation's own message is edited (and its thread
    // gets the line); the person who typed it is answered privately, not with a second copy.
    if (reply.ephemeral || reply.status !== 'ok' || reply.operation?.followUp) return this.answerPrivately(item, reply);
    const home = await this.homeOf(reply);
    let warning: string | null = null;
    if (home && home.id !== p.channel) {
      try {
        const ts = await this.postOnce(item, 'channel', home.id, {
          text: renderReplyText(reply),
          blocks: renderReplyBlocks(reply),
        });
        if (reply.operation)
          await this.d.service.attachMessage(reply.operation.id, { channel: home.id, ts }, reply.operation.state);
        await this.postLink(item, reply, home, ts);
        return;
      } catch (err) {
        const known = toSlackError(err, { method: 'chat.postMessage', channel: home.id, channelName: home.name });
        if (known.code !== 'NOT_ALLOWED' && known.code !== 'NOT_FOUND') throw known;
        // Not in the environment's channel: answer where it was typed, and say how to fix it.
        this.begun.delete(`channel:${item.id}`);
        warning = known.message;
        this.d.log.warn(
          { id: item.id, channel: home.name },
          'inbox: cannot post in the environment channel; answering where the command was typed',
        );
      }
    }
    let ts: string;
    try {
      const blocks = renderReplyBlocks(reply);
      const note =
        warning && blocks.length < 50
          ? [
              {
                type: 'context' as const,
                elements: [{ type: 'mrkdwn' as const, text: `:warning: ${escapeMrkdwn(warning)}` }],
              },
            ]
          : [];
      ts = await this.postOnce(item, 'channel', p.channel, {
        text: renderReplyText(reply),
        blocks: [...blocks, ...note],
      });
      this.markDelivered(item.id);
    } catch (err) {
      const channelName =
        p.channelName && !/^(privategroup|directmessage)$/.test(p.channelName) ? p.channelName : undefined;
      const known = toSlackError(err, { method: 'chat.postMessage', channel: p.channel, channelName });
      if (known.code !== 'NOT_ALLOWED' && known.code !== 'NOT_FOUND') throw known;
      return this.answerPrivately(item, `${renderReplyText(reply)}\n:warning: ${known.message}`);
    }
    if (reply.operation)
      await this.d.service.attachMessage(reply.operation.id, { channel: p.channel, ts }, reply.operation.state);
  }

  /** The environment channel of an operation's reply, as an id; null when there is none or Slack does not know it. */
  private async homeOf(reply: Reply): Promise<{ id: string; name: string } | null> {
    const name = reply.operation && this.d.homeChannel?.(reply.operation);
    if (!name) return null;
    try {
      const id = await this.channels.resolve(name);
      if (!id)
        this.d.log.warn(
          { channel: name },
          'inbox: the environment channel is not one Conveyor can see (invite it, or check the name); answering where the command was typed',
        );
      return id ? { id, name } : null;
    } catch (err) {
      this.d.log.warn(
        { err, channel: name },
        'inbox: cannot look up the environment channel (channels:read scope?); answering where the command was typed',
      );
      return null;
    }
  }

  /**
   * Post in a channel once as the user sees it: a resumed delivery first looks for the post an
   * earlier process may have made (by its metadata), and takes that one.
   */
  private async postOnce(
    item: { id: string; acceptedAt: string },
    route: 'channel' | 'link',
    channel: string,
    message: { text: string; blocks: unknown[] },
  ): Promise<string> {
    const again = this.markBegun(item.id, route);
    const earlier = again ? await this.findPosted(channel, item) : null;
    if (earlier) return earlier;
    const res = await this.d.client.chat
      .postMessage({
        channel,
        text: message.text,
        blocks: message.blocks as never,
        unfurl_links: false,
        metadata: { event_type: REPLY_EVENT, event_payload: { request: item.id } },
      })
      .catch((err: unknown) => {
        // Slack's own refusal (not_in_channel, invalid_blocks…): nothing was posted.
        if ((err as { code?: string })?.code === 'slack_webapi_platform_error') this.markRefused(item.id, route);
        throw err;
      });
    return String(res.ts);
  }

  /** Where the command was typed: one short line with a permalink to the operation's message. */
  private async postLink(
    item: InboxItem<CommandPayload>,
    reply: Reply,
    home: { id: string; name: string },
    ts: string,
  ): Promise<void> {
    const p = item.payload;
    const permalink = await this.d.client.chat
      .getPermalink({ channel: home.id, message_ts: ts })
      .then((r) => (typeof r.permalink === 'string' && /^https:\/\/[^\s<>|]+$/.test(r.permalink) ? r.permalink : null))
      .catch(() => null);
    const where = `<#${home.id}>`;
    const what = escapeMrkdwn(reply.title.slice(0, 200));
    const text = permalink
      ? `${statusEmoji(reply)} ${what}: <${permalink}|follow it in ${home.name.startsWith('#') ? escapeMrkdwn(home.name) : 'the environment channel'}>`
      : `${statusEmoji(reply)} ${what}: follow it in ${where}`;
    try {
      await this.postOnce(item, 'link', p.channel, {
        text,
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
      });
    } catch (err) {
      const known = toSlackError(err, { method: 'chat.postMessage', channel: p.channel });
      if (known.code !== 'NOT_ALLOWED' && known.code !== 'NOT_FOUND') throw known;
      // Typed where Conveyor is not a member (a DM with someone, a channel it was not invited to): say it privately.
      this.markDelivered(item.id);
      await this.d.tellUser(this.d.client, p.user, p.channel, text);
      return;
    }
    this.markDelivered(item.id);
  }

  /**
   * The ts of this request's reply if an earlier process posted it (found by its metadata in
   * the channel's recent history); null when it is not there or the history cannot be read.
   */
  private async findPosted(channel: string, item: { id: string; acceptedAt: string }): Promise<string | null> {
    try {
      const oldest = String(Math.floor(Date.parse(item.acceptedAt) / 1000) - 5);
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const res = await this.d.client.conversations.history({
          channel,
          oldest,
          limit: 100,
          include_all_metadata: true,
          cursor,
        });
        for (const m of res.messages ?? []) {
          const meta = m.metadata as { event_type?: string; event_payload?: { request?: unknown } } | undefined;
          if (meta?.event_type === REPLY_EVENT && meta.event_payload?.request === item.id && m.ts) {
            this.d.log.info(
              { id: item.id },
              'inbox: the reply reached Slack before the last stop; not posting it again',
            );
            return m.ts;
          }
        }
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!res.has_more || !cursor) break;
      }
      this.d.log.info({ id: item.id }, 'inbox: the reply did not reach Slack before the last stop; posting it');
    } catch (err) {
      this.d.log.warn(
        { err: toSlackError(err, { method: 'conversations.history', channel }), id: item.id },
        'inbox: cannot read the channel to check for an earlier copy of this reply (channels:history scope?); posting it, perhaps twice',
      );
    }
    return null;
  }

  private async deliverAction(item: InboxItem<ActionPayload>, reply: Reply): Promise<void> {
    const p = item.payload;
    await this.d.tellUser(this.d.client, p.user, p.channel, reply);
    this.markDelivered(item.id);
    if (p.fromHome) await this.d.publishHome(this.d.client, p.user);
  }
}
