/**
 * Slack behind the Notifier and Directory ports, over a WebClient built by the composition
 * root (its `retryConfig` decides how `ratelimited` and network failures are retried; the
 * WebClient waits the `Retry-After` Slack sends). Slack errors become the Conveyor family:
 * `not_in_channel` is a NotAllowedError that says how to fix it; the rest are UpstreamErrors
 * whose text never carries a token.
 */
import {
  ErrorCode,
  type WebAPIHTTPError,
  type WebAPIPlatformError,
  type WebAPIRateLimitedError,
  type WebAPIRequestError,
  type WebClient,
} from '@slack/web-api';
import {
  type ConveyorError,
  isConveyorError,
  NotAllowedError,
  NotFoundError,
  UpstreamError,
} from '../core/errors.js';
import {
  type Clock,
  type Directory,
  type MessageRef,
  type Notice,
  type Notifier,
  systemClock,
} from '../core/ports.js';
import { escapeMrkdwn, renderReplyBlocks } from './slack-blocks.js';

const TOKEN_PATTERN = /xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+/g;
const AUTH_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
]);

/** How a channel is named in a fix-it line: `<#C123>` renders as a link in Slack. */
function channelLabel(channel: string): string {
  if (channel.startsWith('#')) return channel;
  return /^[CGD][A-Z0-9]{6,}$/.test(channel) ? `<#${channel}>` : `#${channel}`;
}

/** Turn anything the WebClient throws into a Conveyor error with a short, token-free message. */
export function toSlackError(
  err: unknown,
  context: { method: string; channel?: string; channelName?: string },
): ConveyorError {
  if (isConveyorError(err)) return err;
  const named = context.channelName ? `#${context.channelName.replace(/^#/, '')}` : context.channel;
  const where = named ? ` in ${channelLabel(named)}` : '';
  const code = (err as { code?: string } | null)?.code;
  if (code === ErrorCode.PlatformError) {
    const slackError = String((err as WebAPIPlatformError).data?.error ?? 'unknown_error');
    if (slackError === 'not_in_channel' || slackError === 'channel_not_found') {
      const label = named ? channelLabel(named) : 'the channel';
      const fix = `run \`/invite @Conveyor\` in ${label}`;
      return slackError === 'not_in_channel'
        ? new NotAllowedError(`Conveyor is not a member of ${label}: ${fix}`, { cause: err })
        : new NotFoundError(`Slack channel ${label} not found (a private channel? ${fix})`, { cause: err });
    }
    if (AUTH_ERRORS.has(slackError)) {
      return new UpstreamError(
        'slack',
        `Slack refused the bot token (${slackError}): check SLACK_BOT_TOKEN`,
        {
          cause: err,
        },
      );
    }
    return new UpstreamError('slack', `Slack ${context.method} failed${where}: ${slackError}`, {
      cause: err,
    });
  }
  if (code === ErrorCode.RateLimitedError) {
    const after = (err as WebAPIRateLimitedError).retryAfter;
    return new UpstreamError('slack', `Slack is rate limiting ${context.method}: retry after ${after}s`, {
      cause: err,
    });
  }
  if (code === ErrorCode.HTTPError) {
    const status = (err as WebAPIHTTPError).statusCode;
    return new UpstreamError('slack', `Slack ${context.method} answered HTTP ${status}`, { cause: err });
  }
  const original = code === ErrorCode.RequestError ? (err as WebAPIRequestError).original : err;
  const detail = sanitize(original instanceof Error ? original.message : String(original));
  return new UpstreamError('slack', `Slack is unreachable (${context.method}): ${detail}`, { cause: err });
}

function sanitize(text: string): string {
  return text.replace(TOKEN_PATTERN, '[token]').replace(/\?[^\s)]*/g, '');
}

/** Notifier over chat.postMessage / chat.update. */
export class SlackNotifier implements Notifier {
  constructor(private readonly client: WebClient) {}

  async post(notice: Notice): Promise<MessageRef> {
    try {
      const res = await this.client.chat.postMessage({
        channel: notice.channel,
        text: escapeMrkdwn(notice.text),
        ...(notice.reply ? { blocks: renderReplyBlocks(notice.reply) } : {}),
        ...(notice.thread ? { thread_ts: notice.thread.ts } : {}),
        unfurl_links: false,
      });
      return { channel: res.channel ?? notice.channel, ts: String(res.ts) };
    } catch (err) {
      throw toSlackError(err, { method: 'chat.postMessage', channel: notice.channel });
    }
  }

  async update(ref: MessageRef, notice: Notice): Promise<void> {
    try {
      await this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: escapeMrkdwn(notice.text),
        blocks: notice.reply ? renderReplyBlocks(notice.reply) : [],
      });
    } catch (err) {
      throw toSlackError(err, { method: 'chat.update', channel: ref.channel });
    }
  }
}

export interface SlackDirectoryOptions {
  client: WebClient;
  /** The user-group ids (e.g. "S0123") the configuration maps roles to. */
  groups: string[];
  /** How long a group's members are trusted before asking Slack again (default 60 s). */
  ttlMs?: number;
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
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: SlackDirectoryOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.clock = options.clock ?? systemClock;
  }

  async groupsOf(userId: string): Promise<string[]> {
    const members = await Promise.all(this.options.groups.map((g) => this.membersOf(g)));
    return this.options.groups.filter((_, i) => members[i].has(userId));
  }

  /** Forget cached memberships (e.g. on a `subteam_members_changed` event). */
  invalidate(groupId?: string): void {
    if (groupId) this.cache.delete(groupId);
    else this.cache.clear();
  }

  private membersOf(groupId: string): Promise<Set<string>> {
    const cached = this.cache.get(groupId);
    if (cached && this.clock.now().getTime() - cached.fetchedAt < this.ttlMs)
      return Promise.resolve(cached.users);
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
