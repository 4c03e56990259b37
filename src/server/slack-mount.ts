/** Put the Slack app on serve's HTTP port (/slack/events), or start it in Socket Mode. */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { CommandService } from '../core/command-service.js';
import { Dispatcher, PROCESS_WORKER } from '../core/dispatcher.js';
import { ConfigError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import { systemClock } from '../core/ports.js';
import { InboxStore } from '../store/inbox-store.js';
import type { HttpServer } from './http-server.js';

export async function mountSlack(
  http: HttpServer,
  service: CommandService,
  config: Config,
  secrets: Secrets,
  log: Logger,
  metrics?: Metrics,
): Promise<{ stop(): Promise<void> } | null> {
  if (!secrets.SLACK_BOT_TOKEN) return null;
  const socketMode = Boolean(secrets.SLACK_APP_TOKEN) || config.slack?.socketMode === true;
  if (!socketMode && !secrets.SLACK_SIGNING_SECRET) {
    throw new ConfigError('SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: Slack requests cannot be verified');
  }
  const { createSlackApp } = await import('./slack-app.js');
  // The durable inbox lives in the state store the commands use.
  const inbox = service instanceof Dispatcher ? new InboxStore(service.store.db, systemClock) : null;
  // A PGlite folder has one process at a time: claims left by a killed predecessor are stale.
  if (inbox && service instanceof Dispatcher && service.store.db.kind === 'pglite') await inbox.releaseAll();
  const slack = createSlackApp({
    ...(inbox && service instanceof Dispatcher
      ? { inbox: { store: inbox, worker: PROCESS_WORKER, deliveryLog: service.store.db.dir ? `${service.store.db.dir}.slack-deliveries` : undefined } }
      : {}),
    service,
    signingSecret: secrets.SLACK_SIGNING_SECRET ?? 'unused-in-socket-mode',
    botToken: secrets.SLACK_BOT_TOKEN,
    appToken: socketMode ? secrets.SLACK_APP_TOKEN : undefined,
    slackApiUrl: secrets.SLACK_API_URL ?? config.slack?.apiUrl,
    command: config.slack?.command,
    logger: log.child({ component: 'slack' }),
    maxQueued: config.slack?.maxQueued,
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
