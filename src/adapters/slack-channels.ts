/**
 * Channel names from the configuration (`environments[].channel: "#deploys-prod"`) to Slack
 * channel ids, through `conversations.list` (scopes `channels:read`, `groups:read`), cached:
 * the whole list is read at most once per `ttlMs` (default ten minutes), and a name not found
 * is looked for again at most once a minute. Ids (`C…`, `G…`) are taken as they are.
 */
import type { WebClient } from '@slack/web-api';
import { toSlackError } from './slack-errors.js';

const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

export interface SlackChannelsOptions {
  ttlMs?: number;
  /** How soon a name that was not found is looked for again (default one minute). */
  missTtlMs?: number;
  now?: () => number;
}

export class SlackChannels {
  private byName = new Map<string, string>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;
  private readonly ttlMs: number;
  private readonly missTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: WebClient,
    options: SlackChannelsOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.missTtlMs = options.missTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  static isId(channel: string): boolean {
    return CHANNEL_ID.test(channel);
  }

  /** The channel's id; null when Slack has no such channel the bot can see. Throws when Slack cannot be asked. */
  async resolve(channel: string): Promise<string | null> {
    if (CHANNEL_ID.test(channel)) return channel;
    const name = channel.replace(/^#/, '').toLowerCase();
    const age = this.now() - this.loadedAt;
    const known = this.byName.get(name);
    if (known && age < this.ttlMs) return known;
    if (!known && age < this.missTtlMs) return null;
    await this.load();
    return this.byName.get(name) ?? null;
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      const found = new Map<string, string>();
      let cursor: string | undefined;
      try {
        for (let page = 0; page < 50; page++) {
          const res = await this.client.conversations.list({
            types: 'public_channel,private_channel',
            exclude_archived: true,
            limit: 1000,
            cursor,
          });
          for (const c of res.channels ?? []) if (c.id && c.name) found.set(c.name.toLowerCase(), c.id);
          cursor = res.response_metadata?.next_cursor || undefined;
          if (!cursor) break;
        }
      } catch (err) {
        this.loadedAt = this.now(); // not asked again for a minute (a missing scope stays missing)
        throw toSlackError(err, { method: 'conversations.list' });
      } finally {
        this.loading = null;
      }
      this.byName = found;
      this.loadedAt = this.now();
    })();
    return this.loading;
  }
}
