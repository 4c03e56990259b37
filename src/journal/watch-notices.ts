/**
 * Where journal-watch's notices go: to the bot (serve), which records and posts them; and,
 * when serve cannot be reached (down, refusing, unreachable network), straight to this
 * cluster's Slack incoming webhook (`JOURNAL_SLACK_WEBHOOK`, or `JOURNAL_SLACK_WEBHOOK_FILE`),
 * so a watcher that cannot reach serve can still tell someone. The log says which way each
 * notice went; the webhook URL (a secret) never appears in it.
 */
import type { IncomingWebhook } from '@slack/webhook';
import type { JournalEvent, JournalLog } from './export-watcher.js';

/** One line a person can act on: what happened, why, and what to do. */
export function formatJournalNotice(cluster: string, event: JournalEvent): string {
  const head = `Journal export on ${cluster}: ${event.file} ${event.kind}${event.version ? ` as ${event.version}` : ''}`;
  return [head, event.reason, event.todo ? `To do: ${event.todo}` : undefined].filter(Boolean).join(' — ');
}

export interface WatchNoticeOptions {
  cluster: string;
  /** Deliver the event to serve (`POST /api/journal/events`); throws when serve does not take it. */
  toBot: (body: { cluster: string } & JournalEvent) => Promise<unknown>;
  /** This cluster's Slack incoming webhook URL, if it has one. */
  webhookUrl?: string;
  /** Per webhook post. Default 10 s. */
  webhookTimeoutMs?: number;
  log: JournalLog;
}

/** The `notify` of the export watcher: serve first, the Slack webhook when serve is out of reach. */
export function watchNotifier(o: WatchNoticeOptions): (event: JournalEvent) => Promise<void> {
  // @slack/webhook loads on the first notice that needs it, not in every process that formats one.
  let made: Promise<IncomingWebhook> | null = null;
  const webhook = o.webhookUrl
    ? {
        send: async (message: Parameters<IncomingWebhook['send']>[0]) => {
          made ??= import('@slack/webhook').then(
            ({ IncomingWebhook: Hook }) => new Hook(o.webhookUrl!, { timeout: o.webhookTimeoutMs ?? 10_000 }),
          );
          return (await made).send(message);
        },
      }
    : null;
  return async (event) => {
    try {
      await o.toBot({ cluster: o.cluster, ...event });
      return;
    } catch (err) {
      const why = (err as Error).message;
      if (!webhook) {
        o.log.warn(
          { kind: event.kind, file: event.file, err: why },
          'notice not delivered: serve is unreachable and no JOURNAL_SLACK_WEBHOOK is set',
        );
        return;
      }
      try {
        await webhook.send({ text: formatJournalNotice(o.cluster, event) });
        o.log.warn(
          { kind: event.kind, file: event.file, err: why },
          "serve is unreachable: the notice was posted to this cluster's Slack webhook instead",
        );
      } catch (hookErr) {
        // The library's error may carry the URL: log only its code.
        const code = (hookErr as { code?: string }).code ?? 'error';
        o.log.error(
          { kind: event.kind, file: event.file, err: why, webhook: code },
          'notice not delivered: serve is unreachable and the Slack webhook failed',
        );
      }
    }
  };
}
