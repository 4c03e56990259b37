/**
 * Slack behind the Notifier and Directory ports (groups and names), over a WebClient built by the composition
 * root (its `retryConfig` decides how `ratelimited` and network failures are retried; the
 * WebClient waits the `Retry-After` Slack sends). Slack errors become the Conveyor family:
 * `not_in_channel` is a NotAllowedError that says how to fix it; the rest are UpstreamErrors
 * whose text never carries a token.
 */
import type { WebClient } from '@slack/web-api';
import { type Clock, type Directory, type MessageRef, type Notice, type Notifier, systemClock } from '../core/ports.js';
import { stateEmoji, userMention } from './slack-block-parts.js';
import { escapeMrkdwn, renderReplyBlocks, renderReplyText } from './slack-blocks.js';
import { SlackChannels } from './slack-channels.js';
import { EditPacer } from './slack-edit-pacer.js';
import { toSlackError } from './slack-errors.js';

export { channelLabel, toSlackError } from './slack-errors.js';

export interface SlackNotifierOptions {
  /** At most one chat.update per message per this many ms (default 1,000). */
  editIntervalMs?: number;
  /** Where an edit that failed after its caller moved on is reported. */
  log?: { warn(obj: unknown, msg?: string): void };
  /** Resolves channel names (`#deploys-prod`) to ids; default: over the same client. */
  channels?: SlackChannels;
}

/**
 * Notifier over chat.postMessage / chat.update. An operation's message is edited at most once a
 * second (edits in between are coalesced, the latest always sent; a final state is waited for),
 * and each transition also gets its own line in the message's thread, so nothing is lost.
 */
export class SlackNotifier implements Notifier {
  private readonly pacer: EditPacer;
  private readonly channels: SlackChannels;
  /** The last thread line per message (a transition announced twice gets one line). */
  private readonly lastLine = new Map<string, string>();
  private readonly threads = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: WebClient,
    private readonly options: SlackNotifierOptions = {},
  ) {
    this.pacer = new EditPacer({ intervalMs: options.editIntervalMs });
    this.channels = options.channels ?? new SlackChannels(client);
  }

  async post(notice: Notice): Promise<MessageRef> {
    const channel = (await this.channels.resolve(notice.channel).catch(() => null)) ?? notice.channel;
    try {
      const res = await this.client.chat.postMessage({
        channel,
        text: notice.reply ? renderReplyText(notice.reply) : escapeMrkdwn(notice.text),
        ...(notice.reply ? { blocks: renderReplyBlocks(notice.reply) } : {}),
        ...(notice.thread ? { thread_ts: notice.thread.ts } : {}),
        unfurl_links: false,
      });
      return { channel: res.channel ?? channel, ts: String(res.ts) };
    } catch (err) {
      throw toSlackError(err, { method: 'chat.postMessage', channel: notice.channel });
    }
  }

  async update(ref: MessageRef, notice: Notice): Promise<void> {
    const key = `${ref.channel}/${ref.ts}`;
    const line = notice.reply?.progressLine;
    if (line) await this.threadLine(key, ref, line, notice);
    const edit = this.pacer.submit(key, async () => {
      try {
        await this.client.chat.update({
          channel: ref.channel,
          ts: ref.ts,
          text: notice.reply ? renderReplyText(notice.reply) : escapeMrkdwn(notice.text),
          blocks: notice.reply ? renderReplyBlocks(notice.reply) : [],
        });
      } catch (err) {
        throw toSlackError(err, { method: 'chat.update', channel: ref.channel });
      }
    });
    // An edit that goes at once, or a final state, is waited for; one paced behind an earlier
    // edit goes within the second (a later state may replace it: the thread has every line).
    if (edit.immediate || notice.reply?.card?.final) return edit.done;
    edit.done.catch((err: unknown) =>
      this.options.log?.warn({ err, channel: ref.channel }, 'a paced edit of an operation message failed'),
    );
  }

  /** Resolves when every paced edit has been sent (shutdown). */
  flush(): Promise<void> {
    return this.pacer.idle();
  }

  /** One line in the message's thread per transition, in order; the final one mentions the requester. */
  private threadLine(key: string, ref: MessageRef, line: string, notice: Notice): Promise<void> {
    const previous = this.threads.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        if (this.lastLine.get(key) === line) return;
        const card = notice.reply?.card;
        const who = card?.final ? ` ${userMention(card.requester)}` : '';
        try {
          await this.client.chat.postMessage({
            channel: ref.channel,
            thread_ts: ref.ts,
            text: `${stateEmoji(card?.state ?? notice.reply?.operation?.state ?? '')} ${escapeMrkdwn(line)}${who}`,
            unfurl_links: false,
          });
        } catch (err) {
          throw toSlackError(err, { method: 'chat.postMessage', channel: ref.channel });
        }
        this.lastLine.set(key, line);
        if (this.lastLine.size > 5000) this.lastLine.delete(this.lastLine.keys().next().value as string);
      });
    this.threads.set(key, next);
    void next
      .finally(() => {
        if (this.threads.get(key) === next) this.threads.delete(key);
      })
      .catch(() => undefined);
    return next;
  }
}

export interface SlackDirectoryOptions {
  client: WebClient;
  /** The user-group ids (e.g. "S0123") the configuration maps roles to. */
  groups: string[];
  /** How long a group's members are trusted before asking Slack again (default 60 s). */
  ttlMs?: number;
  /** How long a user's name is kept before asking users.info again (default ten minutes). */
  namesTtlMs?: number;
  clock?: Clock;
}

interface CachedGroup {
  users: Set<string>;
  fetchedAt: number;
}

/**
 * Directory over usergroups.users.list: one call per configured group, cached for `ttlMs`.
 * Fails closed: when Slack cannot be asked and the cache is stale, it throws UpstreamError.
 */
export class SlackDirectory implements Directory {
  private readonly cache = new Map<string, CachedGroup>();
  private readonly inflight = new Map<string, Promise<Set<string>>>();
  private readonly names = new Map<string, { name: string | null; at: number }>();
  private readonly namesInflight = new Map<string, Promise<string | null>>();
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: SlackDirectoryOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.clock = options.clock ?? systemClock;
  }

  async groupsOf(userId: string): Promise<string[]> {
    const members = await Promise.all(this.options.groups.map((g) => this.membersOf(g)));
    return this.options.groups.filter((_, i) => members[i]?.has(userId) === true);
  }

  /**
   * The user's display name (else real name, else handle) from users.info, cached for
   * `namesTtlMs`; null when Slack does not know the user or cannot be asked (callers show the id).
   */
  async nameOf(userId: string): Promise<string | null> {
    const now = this.clock.now().getTime();
    const cached = this.names.get(userId);
    if (cached && now - cached.at < (this.options.namesTtlMs ?? 10 * 60_000)) return cached.name;
    const running = this.namesInflight.get(userId);
    if (running) return running;
    const asking = this.options.client.users
      .info({ user: userId })
      .then((res) => {
        const u = res.user;
        const name = u?.profile?.display_name || u?.profile?.real_name || u?.real_name || u?.name || null;
        this.names.set(userId, { name, at: this.clock.now().getTime() });
        if (this.names.size > 10_000) this.names.delete(this.names.keys().next().value as string);
        return name;
      })
      .catch((err: unknown) => {
        // A user Slack does not know is remembered as such (no users.info per list for an id
        // that is not a Slack user, e.g. a CLI identity); other failures are asked again.
        if ((err as { data?: { error?: string } })?.data?.error === 'user_not_found') {
          this.names.set(userId, { name: null, at: this.clock.now().getTime() });
        }
        return cached?.name ?? null;
      })
      .finally(() => this.namesInflight.delete(userId));
    this.namesInflight.set(userId, asking);
    return asking;
  }

  /** Forget cached memberships (e.g. on a `subteam_members_changed` event). */
  invalidate(groupId?: string): void {
    if (groupId) this.cache.delete(groupId);
    else this.cache.clear();
  }

  private membersOf(groupId: string): Promise<Set<string>> {
    const cached = this.cache.get(groupId);
    if (cached && this.clock.now().getTime() - cached.fetchedAt < this.ttlMs) return Promise.resolve(cached.users);
    const running = this.inflight.get(groupId);
    if (running) return running;
    const fetching = this.options.client.usergroups.users
      .list({ usergroup: groupId })
      .then((res) => {
        const users = new Set(res.users ?? []);
        this.cache.set(groupId, { users, fetchedAt: this.clock.now().getTime() });
        return users;
      })
      .catch((err: unknown) => {
        throw toSlackError(err, { method: 'usergroups.users.list' });
      })
      .finally(() => this.inflight.delete(groupId));
    this.inflight.set(groupId, fetching);
    return fetching;
  }
}
