/**
 * The Slack surface: a Bolt app whose listeners (./slack/listeners/, one per concern) ack first,
 * hand the command text and the caller to the CommandService, and render its Reply. Transport
 * only — authorisation, idempotency and every business rule live behind the service. This
 * module builds the app and its receiver, the shared surface (./slack/surface.ts), and the
 * start/drain/stop life cycle.
 */
import { createServer, type Server } from 'node:http';
import { App, SocketModeReceiver } from '@slack/bolt';
import type { WebClient, WebClientOptions } from '@slack/web-api';
import { toSlackError } from '../adapters/slack-notifier.js';
import type { CommandService } from '../core/command-service.js';
import type { InboxStore } from '../store/inbox-store.js';
import { toBoltLogger } from './slack/bolt-logger.js';
import { registerAppHome } from './slack/listeners/app-home.js';
import { registerButtons } from './slack/listeners/buttons.js';
import { registerListMore } from './slack/listeners/list-more.js';
import { registerRejectModal } from './slack/listeners/reject-modal.js';
import { registerSlashCommand } from './slack/listeners/slash-command.js';
import { registerSoakRollback } from './slack/listeners/soak-rollback.js';
import { createSurface, type SlackAppLogger, type SlackSurface } from './slack/surface.js';
import type { AcceptLog } from './slack-accept-log.js';
import { SlackInboxWorker } from './slack-inbox.js';
import { SlackHttpReceiver } from './slack-receiver.js';

export { SLACK_ACTION_PATTERN } from './slack/listeners/buttons.js';
export { REJECT_MODAL_ID } from './slack/listeners/reject-modal.js';
export { BUSY_TEXT } from './slack/listeners/slash-command.js';
export type { SlackAppLogger } from './slack/surface.js';

export interface CreateSlackAppOptions {
  service: CommandService;
  signingSecret: string;
  botToken: string;
  /** Socket Mode when given (xapp-…); HTTP otherwise. */
  appToken?: string;
  /** Base URL of the Web API (tests: the fake's `apiUrl`). */
  slackApiUrl?: string;
  command?: string;
  logger: SlackAppLogger;
  /** Both known: Bolt never calls auth.test. Otherwise auth.test runs once in start(). */
  botId?: string;
  botUserId?: string;
  /** HTTP path for commands, interactivity and events (default `/slack/events`). */
  endpoint?: string;
  /** Extra WebClient options (e.g. `retryConfig`, `timeout`). */
  clientOptions?: Omit<WebClientOptions, 'slackApiUrl' | 'logger'>;
  newErrorId?: () => string;
  /** Acked requests whose work runs at once (default 4); the rest wait their turn. */
  workConcurrency?: number;
  /** Work waiting after its ack beyond which new slash commands are answered "busy" (default 2,000). */
  maxQueued?: number;
  /** Called when a command is answered "busy" (a metric). */
  onBusy?: () => void;
  /**
   * The durable inbox: commands, approve clicks and reject submissions are written here
   * before they are acked, and a restart finishes what a dead process accepted.
   * Without it (unit tests of the transport) the work lives in memory only.
   */
  inbox?: { store: InboxStore; worker: string; deliveryLog?: string; acceptLog?: AcceptLog };
  /** The channel an operation's message belongs in (its environment's); typed elsewhere, a link is left there. */
  homeChannel?: (operation: { kind?: string; env?: string }) => string | undefined;
}

export interface SlackApp {
  app: App;
  receiver: SlackHttpReceiver | SocketModeReceiver;
  client: WebClient;
  /** HTTP mode listens on `port` (0: a free one) and `host`; resolves with the bound port. */
  start(listen?: { port?: number; host?: string }): Promise<{ port: number | null }>;
  /** Resolves when every acked request's work has finished (shutdown waits for it). */
  idle(): Promise<void>;
  /** Queue what the inbox holds unfinished and keep sweeping it (no-op without an inbox). */
  resume(): Promise<number>;
  /** Shutdown without stopping the receiver (the HTTP server drains requests): finish acked work, stop sweeping. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export function createSlackApp(options: CreateSlackAppOptions): SlackApp {
  const { service, logger } = options;
  const boltLog = toBoltLogger(logger);
  const clientOptions = {
    ...options.clientOptions,
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
  };
  const receiver = options.appToken
    ? new SocketModeReceiver({ appToken: options.appToken, logger: boltLog, installerOptions: { clientOptions } })
    : new SlackHttpReceiver({ signingSecret: options.signingSecret, log: logger, onAck: () => base.noteAck() });
  let server: Server | null = null;
  const app = new App({
    receiver,
    token: options.botToken,
    botId: options.botId,
    botUserId: options.botUserId,
    tokenVerificationEnabled: !(options.botId && options.botUserId),
    deferInitialization: true,
    // No conversation store: nothing here reads `context.conversation`, and Bolt's in-memory
    // default rejects with a new Error (a stack trace) on every request it has not seen.
    convoStore: false,
    logger: boltLog,
    clientOptions,
  });
  const base = createSurface({
    service,
    logger,
    workConcurrency: options.workConcurrency,
    maxQueued: options.maxQueued,
    newErrorId: options.newErrorId,
    onBusy: options.onBusy,
  });
  const inbox = options.inbox
    ? new SlackInboxWorker({
        inbox: options.inbox.store,
        worker: options.inbox.worker,
        service,
        client: app.client,
        log: logger,
        failureLine: (err) => base.failureLine(err),
        tellUser: (client, user, channel, reply) => base.tellUser(client, user, channel, reply),
        publishHome: (client, user) => base.publishHome(client, user),
        schedule: (task) => base.afterAck(task),
        deliveryLog: options.inbox.deliveryLog,
        acceptLog: options.inbox.acceptLog,
        homeChannel: options.homeChannel,
      })
    : null;
  const surface: SlackSurface = { ...base, inbox };
  const idle = () => surface.idle();

  registerSlashCommand(app, surface, options.command ?? '/conveyor');
  registerButtons(app, surface);
  registerSoakRollback(app, surface);
  registerListMore(app, surface);
  registerRejectModal(app, surface);
  registerAppHome(app, surface);
  app.error(async (err) => {
    logger.error({ err }, 'unhandled error in a Slack listener');
  });

  return {
    app,
    receiver,
    client: app.client,
    async start(listen = {}) {
      await app.init().catch((err: unknown) => {
        throw toSlackError(err, { method: 'auth.test' });
      });
      if (receiver instanceof SocketModeReceiver) {
        await app.start();
        return { port: null };
      }
      const endpoint = options.endpoint ?? '/slack/events';
      const http = createServer((req, res) => {
        if (req.method === 'POST' && (req.url ?? '').split('?')[0] === endpoint) void receiver.handle(req, res);
        else {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found');
        }
      });
      server = http;
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(listen.port ?? 3000, listen.host ?? '127.0.0.1', () => resolve());
      });
      const address = http.address();
      return { port: address && typeof address === 'object' ? address.port : null };
    },
    idle,
    async drain() {
      await idle();
      await inbox?.stop();
    },
    async resume() {
      if (!inbox) return 0;
      const queued = await inbox.sweep();
      inbox.start();
      if (queued) logger.info({ queued }, 'inbox: resuming requests accepted before the last stop');
      return queued;
    },
    async stop() {
      await app.stop();
      if (server) {
        const s = server;
        server = null;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        });
      }
      await idle();
      await inbox?.stop();
    },
  };
}
