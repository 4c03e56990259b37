/**
 * Notifiers over webhooks, for where the Slack Web API is not used:
 * - Slack incoming webhooks (`@slack/webhook`): one IncomingWebhook per channel, built by the
 *   composition root; a webhook cannot edit or thread, so an update is a new message.
 * - A generic JSON webhook for other systems, signed: `X-Conveyor-Timestamp: <unix seconds>`
 *   and `X-Conveyor-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, so a
 *   receiver can check origin and refuse replays (`verifyConveyorSignature`).
 * - `FanoutNotifier`: the primary (whose refs thread) plus any number of secondaries.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingWebhook } from '@slack/webhook';
import pRetry, { AbortError } from 'p-retry';
import { UpstreamError } from '../core/errors.js';
import type { MessageRef, Notice, Notifier } from '../core/ports.js';

export class SlackWebhookNotifier implements Notifier {
  /** @param webhooks channel → its incoming webhook; `*` catches every other channel. */
  constructor(private readonly webhooks: Record<string, IncomingWebhook>) {}

  async post(notice: Notice): Promise<MessageRef | null> {
    const hook = this.webhooks[notice.channel] ?? this.webhooks['*'];
    if (!hook) return null;
    try {
      await hook.send({ text: notice.text });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      throw new UpstreamError('slack', `Slack incoming webhook for ${notice.channel} failed (${code})`, { cause: err });
    }
    return null;
  }

  async update(_ref: MessageRef, notice: Notice): Promise<void> {
    await this.post(notice);
  }
}

export const SIGNATURE_HEADER = 'x-conveyor-signature';
export const TIMESTAMP_HEADER = 'x-conveyor-timestamp';

export function signConveyorPayload(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): the signature matches and the timestamp is within `toleranceS`. */
export function verifyConveyorSignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  now = Date.now(),
  toleranceS = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(now / 1000 - ts) > toleranceS || !headers.signature) return false;
  const want = Buffer.from(signConveyorPayload(secret, ts, body));
  const got = Buffer.from(headers.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export interface JsonWebhookRoute {
  url: string;
  /** HMAC key; from the environment, never the config file. */
  secret: string;
}

export interface JsonWebhookNotifierOptions {
  /** channel → route; `*` catches every other channel. */
  routes: Record<string, JsonWebhookRoute>;
  fetch?: typeof fetch;
  now?: () => number;
  retries?: number;
  minTimeoutMs?: number;
}

export class JsonWebhookNotifier implements Notifier {
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: JsonWebhookNotifierOptions) {
    this.fetchFn = options.fetch ?? fetch;
  }

  async post(notice: Notice): Promise<MessageRef | null> {
    const id = randomUUID();
    const sent = await this.send(notice, {
      type: 'post',
      id,
      ...(notice.thread ? { inReplyTo: notice.thread.ts } : {}),
    });
    return sent ? { channel: notice.channel, ts: id } : null;
  }

  async update(ref: MessageRef, notice: Notice): Promise<void> {
    await this.send(notice, { type: 'update', id: ref.ts });
  }

  private async send(notice: Notice, meta: Record<string, string>): Promise<boolean> {
    const route = this.options.routes[notice.channel] ?? this.options.routes['*'];
    if (!route) return false;
    const body = JSON.stringify({ ...meta, channel: notice.channel, text: notice.text, reply: notice.reply ?? null });
    const host = new URL(route.url).host;
    await pRetry(
      async () => {
        const timestamp = Math.floor((this.options.now ?? Date.now)() / 1000);
        let res: Response;
        try {
          res = await this.fetchFn(route.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              [TIMESTAMP_HEADER]: String(timestamp),
              [SIGNATURE_HEADER]: signConveyorPayload(route.secret, timestamp, body),
            },
            body,
            signal: AbortSignal.timeout(10_000),
          });
        } catch (err) {
          throw new UpstreamError('webhook', `webhook ${host} is unreachable`, { cause: err });
        }
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        const error = new UpstreamError('webhook', `webhook ${host} answered ${res.status}`);
        if (res.status < 500 && res.status !== 429) throw new AbortError(error);
        throw error;
      },
      { retries: this.options.retries ?? 3, minTimeout: this.options.minTimeoutMs ?? 500 },
    );
    return true;
  }
}

export class FanoutNotifier implements Notifier {
  constructor(
    private readonly primary: Notifier,
    private readonly secondaries: Notifier[],
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async post(notice: Notice): Promise<MessageRef | null> {
    const { thread: _thread, ...plain } = notice;
    const [ref] = await Promise.all([
      this.primary.post(notice),
      ...this.secondaries.map((n) => n.post(plain).catch((err) => this.onError(err))),
    ]);
    return ref;
  }

  async flush(): Promise<void> {
    await Promise.all([this.primary.flush?.(), ...this.secondaries.map((n) => n.flush?.())]);
  }

  async observe(notice: Notice): Promise<void> {
    const { thread: _thread, ...plain } = notice;
    await Promise.all(this.secondaries.map((n) => n.post(plain).catch((err) => this.onError(err))));
  }

  /** Secondaries cannot edit the primary's message: they get the new text as a post. */
  async update(ref: MessageRef, notice: Notice): Promise<void> {
    const { thread: _thread, ...plain } = notice;
    await Promise.all([
      this.primary.update(ref, notice),
      ...this.secondaries.map((n) => n.post(plain).catch((err) => this.onError(err))),
    ]);
  }
}
