/**
 * The worker behind the durable inbox (src/store/inbox-store.ts): runs each accepted Slack
 * request through the CommandService, stores the reply, then delivers it — through the
 * request's `response_url` while Slack keeps it valid (30 minutes), in the channel after that.
 * A sweep at start and every few seconds picks up what a dead process accepted and never
 * finished, so an acked command always gets its answer.
 *
 * Delivery is at least once. Right after Slack takes a reply, its id is appended to a local
 * delivery log (one write, no database round trip), so a process killed before the inbox row
 * says "done" does not deliver it again; only a kill inside the Web API call itself (Slack has
 * the reply, the answer has not reached us) leads to a second delivery on resume.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { WebClient } from '@slack/web-api';
import { renderReplyBlocks, renderReplyText } from '../adapters/slack-blocks.js';
import { toSlackError } from '../adapters/slack-notifier.js';
import type { CommandService } from '../core/command-service.js';
import type { Reply } from '../core/reply.js';
import { INBOX_MAX_ATTEMPTS, type InboxItem, type InboxStore } from '../store/inbox-store.js';

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
  fetch?: typeof fetch;
  now?: () => number;
  /** Append-only file of delivered ids (beside the embedded store); none: the inbox row alone. */
  deliveryLog?: string;
}

/** Slack keeps a response_url for 30 minutes; answer through it only well inside that. */
export const RESPONSE_URL_TTL_MS = 29 * 60_000;
const CLAIM_MS = 5 * 60_000;

export class SlackInboxWorker {
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;

  private readonly delivered = new Set<string>();

  constructor(private readonly d: SlackInboxDeps) {
    this.now = d.now ?? Date.now;
    this.fetchFn = d.fetch ?? fetch;
    if (d.deliveryLog && existsSync(d.deliveryLog)) {
      for (const id of readFileSync(d.deliveryLog, 'utf8').split('\n')) if (id) this.delivered.add(id);
    }
  }

  /** Record that Slack has this item's reply: one small append, private to this user. */
  private markDelivered(id: string): void {
    this.delivered.add(id);
    if (this.d.deliveryLog) appendFileSync(this.d.deliveryLog, `${id}\n`, { mode: 0o600 });
  }

  /** Forget delivered ids whose items are finished (called after a sweep found nothing open). */
  private compact(open: string[]): void {
    if (!this.d.deliveryLog || this.delivered.size < 1000) return;
    const keep = [...this.delivered].filter((id) => open.includes(id) || this.inFlight.has(id));
    this.delivered.clear();
    for (const id of keep) this.delivered.add(id);
    writeFileSync(this.d.deliveryLog, keep.map((id) => `${id}\n`).join(''), { mode: 0o600 });
  }

  /**
   * Write a request before its ack; false for a retry of one accepted before (nothing to do).
   * The row is born claimed by this worker, which runs it next.
   */
  accept(id: string, kind: 'command' | 'action', payload: CommandPayload | ActionPayload): Promise<boolean> {
    return this.d.inbox.accept(id, kind, payload as unknown as Record<string, unknown>, { worker: this.d.worker, ms: CLAIM_MS });
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
    const ids = await this.d.inbox.open(200);
    for (const id of ids) this.enqueue(id);
    if (ids.length === 0 && this.inFlight.size === 0) this.compact(ids);
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
  }

  async process(id: string, accepted?: InboxItem): Promise<void> {
    const { inbox, worker, log } = this.d;
    const item = accepted ?? (await inbox.claim(id, worker, CLAIM_MS));
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
    return this.d.service.execute({ text: p.text, user: p.user, channel: p.channel, idempotencyKey: item.id, source: 'slack' });
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
    const res = await this.fetchFn(p.responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...message }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.ok) this.markDelivered(item.id);
    await res.body?.cancel().catch(() => undefined);
    if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}`);
  }

  private async deliverCommand(item: InboxItem<CommandPayload>, reply: Reply): Promise<void> {
    const p = item.payload;
    if (reply.ephemeral || reply.status !== 'ok') return this.answerPrivately(item, reply);
    let ts: string;
    try {
      const res = await this.d.client.chat.postMessage({
        channel: p.channel,
        text: renderReplyText(reply),
        blocks: renderReplyBlocks(reply),
        unfurl_links: false,
      });
      ts = String(res.ts);
      this.markDelivered(item.id);
    } catch (err) {
      const channelName = p.channelName && !/^(privategroup|directmessage)$/.test(p.channelName) ? p.channelName : undefined;
      const known = toSlackError(err, { method: 'chat.postMessage', channel: p.channel, channelName });
      if (known.code !== 'NOT_ALLOWED' && known.code !== 'NOT_FOUND') throw known;
      return this.answerPrivately(item, `${renderReplyText(reply)}\n:warning: ${known.message}`);
    }
    if (reply.operation) await this.d.service.attachMessage(reply.operation.id, { channel: p.channel, ts });
  }

  private async deliverAction(item: InboxItem<ActionPayload>, reply: Reply): Promise<void> {
    const p = item.payload;
    await this.d.tellUser(this.d.client, p.user, p.channel, reply);
    this.markDelivered(item.id);
    if (p.fromHome) await this.d.publishHome(this.d.client, p.user);
  }
}
