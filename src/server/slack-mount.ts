/** Put the Slack app on serve's HTTP port (/slack/events), or start it in Socket Mode. */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { CommandService } from '../core/command-service.js';
import { PROCESS_WORKER } from '../core/dispatcher.js';
import { ConfigError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import type { InboxStore } from '../store/inbox-store.js';
import type { HttpServer } from './http-server.js';
import { AcceptLog } from './slack-accept-log.js';

/** What the composition root hands the Slack surface besides the service. */
export interface SlackMountDeps {
  http: HttpServer;
  service: CommandService;
  config: Config;
  secrets: Secrets;
  log: Logger;
  metrics?: Metrics;
  /**
   * The durable inbox; `singleProcess` (a PGlite folder: one process at a time) lets start drop
   * the claims a killed predecessor left; `dir` puts the delivery log beside the store.
   */
  inbox?: { store: InboxStore; singleProcess: boolean; dir?: string };
}

export async function mountSlack(d: SlackMountDeps): Promise<{ stop(): Promise<void> } | null> {
  const { http, service, config, secrets, log, metrics } = d;
  if (!secrets.SLACK_BOT_TOKEN) return null;
  const socketMode = Boolean(secrets.SLACK_APP_TOKEN) || config.slack?.socketMode === true;
  if (!socketMode && !secrets.SLACK_SIGNING_SECRET) {
    throw new ConfigError('SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: Slack requests cannot be verified');
  }
  const { createSlackApp } = await import('./slack-app.js');
  // A PGlite folder has one process at a time: claims left by a killed predecessor are stale.
  if (d.inbox?.singleProcess) await d.inbox.store.releaseAll();
  const slack = createSlackApp({
    ...(d.inbox
      ? {
          inbox: {
            store: d.inbox.store,
            worker: PROCESS_WORKER,
            deliveryLog: d.inbox.dir ? `${d.inbox.dir}.slack-deliveries` : undefined,
            // One process per PGlite folder: requests are acked once logged beside it, their
            // rows written after (./slack-accept-log.ts). PostgreSQL: the row before the ack.
            acceptLog: d.inbox.singleProcess
              ? AcceptLog.open(d.inbox.dir ? `${d.inbox.dir}.slack-accepts` : undefined)
              : undefined,
          },
        }
      : {}),
    service,
    signingSecret: secrets.SLACK_SIGNING_SECRET ?? 'unused-in-socket-mode',
    botToken: secrets.SLACK_BOT_TOKEN,
    appToken: socketMode ? secrets.SLACK_APP_TOKEN : undefined,
    slackApiUrl: secrets.SLACK_API_URL ?? config.slack?.apiUrl,
    command: config.slack?.command,
    logger: log.child({ component: 'slack' }),
    maxQueued: config.slack?.maxQueued,
    homeChannel: (op) =>
      op.kind?.startsWith('journal')
        ? (config.journal?.channel ?? config.slack?.journalChannel)
        : config.environments.find((e) => e.name === op.env)?.channel,
    onBusy: () => metrics?.slackBusy.inc(),
  });
  if (socketMode) {
    await slack.start();
    log.info('slack: connected in Socket Mode');
    await slack.resume();
    return slack;
  }
  await slack.app.init();
  const receiver = slack.receiver as import('./slack-receiver.js').SlackHttpReceiver;
  http.add('POST', '/slack/events', (req, res) => receiver.handle(req, res));
  log.info('slack: listening on /slack/events');
  await slack.resume();
  return { stop: () => slack.drain() }; // the HTTP server drains requests; this, the work they left
}
