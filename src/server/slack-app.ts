/**
 * The Slack surface: a Bolt app whose listeners ack first, hand the command text and the
 * caller to the CommandService, and render its Reply. Transport only — authorisation,
 * idempotency and every business rule live behind the service.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  App,
  type BlockAction,
  type ButtonAction,
  type Logger,
  LogLevel,
  type RespondFn,
  type SlashCommand,
  SocketModeReceiver,
} from '@slack/bolt';
import pLimit from 'p-limit';
import type { ModalView, WebClient, WebClientOptions } from '@slack/web-api';
import {
  escapeMrkdwn,
  renderHomeView,
  renderReplyBlocks,
  renderReplyText,
} from '../adapters/slack-blocks.js';
import { toSlackError } from '../adapters/slack-notifier.js';
import type { CommandInvocation, CommandService } from '../core/command-service.js';
import { InputError, isConveyorError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import type { InboxStore } from '../store/inbox-store.js';
import { SlackInboxWorker } from './slack-inbox.js';
import { SlackHttpReceiver } from './slack-receiver.js';

/** pino-compatible: `logger.error({ err }, 'message')`. */
export interface SlackAppLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

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
  /**
   * The durable inbox: commands, approve clicks and reject submissions are written here
   * before they are acked, and a restart finishes what a dead process accepted.
   * Without it (unit tests of the transport) the work lives in memory only.
   */
  inbox?: { store: InboxStore; worker: string; deliveryLog?: string };
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

export const REJECT_MODAL_ID = 'conveyor_reject_modal';
export const SLACK_ACTION_PATTERN = /^conveyor_(approve|reject)(?::\d+)?$/;
/** Action values are `opId` or `opId|role`; the service decides whether the id means anything. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function createSlackApp(options: CreateSlackAppOptions): SlackApp {
  const { service, logger } = options;
  const command = options.command ?? '/conveyor';
  const newErrorId = options.newErrorId ?? (() => randomUUID().slice(0, 8));
  const boltLog = toBoltLogger(logger);
  const clientOptions = {
    ...options.clientOptions,
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
  };
  const receiver = options.appToken
    ? new SocketModeReceiver({
        appToken: options.appToken,
        logger: boltLog,
        installerOptions: { clientOptions },
      })
    : new SlackHttpReceiver({ signingSecret: options.signingSecret, log: logger });
  let server: Server | null = null;
  const app = new App({
    receiver,
    token: options.botToken,
    botId: options.botId,
    botUserId: options.botUserId,
    tokenVerificationEnabled: !(options.botId && options.botUserId),
    deferInitialization: true,
    logger: boltLog,
    clientOptions,
  });
  const posted = new RecentKeys(5000);
  /**
   * What runs after an ack (the command, its reply) waits here, a few at a time: under a burst
   * the event loop keeps answering Slack's requests (which must be acked within 3 s) instead
   * of running every command at once.
   */
  const limit = pLimit(options.workConcurrency ?? 4);
  const pending = new Set<Promise<void>>();
  const afterAck = (task: () => Promise<void>) => {
    const done: Promise<void> = limit(task)
      .catch((err: unknown) => logger.error({ err }, 'slack work failed'))
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  const idle = async () => {
    while (pending.size) await Promise.all(pending);
  };

  /** One short line for a known error; a generic line with an id (stack to the log) otherwise. */
  const failureLine = (err: unknown): string => {
    if (isConveyorError(err)) {
      logger.warn({ err: { code: err.code, message: err.message } }, 'slack request refused or failed');
      const usage = err instanceof InputError && err.usage ? `\nUsage: \`${escapeMrkdwn(err.usage)}\`` : '';
      return `:warning: ${escapeMrkdwn(err.message)}${usage}`;
    }
    const errorId = newErrorId();
    logger.error({ err, errorId }, 'slack handler failed');
    return `:boom: Something went wrong (error id \`${errorId}\`). The details are in Conveyor's log.`;
  };

  const respondEphemeral = async (respond: RespondFn, reply: Reply | string) => {
    const message =
      typeof reply === 'string'
        ? { text: reply }
        : { text: renderReplyText(reply), blocks: renderReplyBlocks(reply) };
    await respond({ response_type: 'ephemeral', replace_original: false, ...message }).catch((err: unknown) =>
      logger.warn({ err }, 'could not answer through response_url'),
    );
  };

  /** Tell one user something privately: in the channel when there is one, else in the app's DM. */
  const tellUser = async (
    client: WebClient,
    user: string,
    channel: string | undefined,
    reply: Reply | string,
  ) => {
    const text = typeof reply === 'string' ? reply : renderReplyText(reply);
    const blocks = typeof reply === 'string' ? undefined : renderReplyBlocks(reply);
    try {
      if (channel) await client.chat.postEphemeral({ channel, user, text, ...(blocks ? { blocks } : {}) });
      else await client.chat.postMessage({ channel: user, text, ...(blocks ? { blocks } : {}) });
    } catch (err) {
      logger.warn(
        { err: toSlackError(err, { method: 'chat.postEphemeral', channel }) },
        'could not tell the user',
      );
    }
  };

  const execute = (invocation: Omit<CommandInvocation, 'source'>) =>
    service.execute({ ...invocation, source: 'slack' });

  const inbox = options.inbox
    ? new SlackInboxWorker({
        inbox: options.inbox.store,
        worker: options.inbox.worker,
        service,
        client: app.client,
        log: logger,
        failureLine: (err) => failureLine(err),
        tellUser: (client, user, channel, reply) => tellUser(client, user, channel, reply),
        publishHome: (client, user) => publishHome(client, user),
        schedule: afterAck,
        deliveryLog: options.inbox.deliveryLog,
      })
    : null;

  // ---------------------------------------------------------------- slash command
  app.command(command, async ({ ack, command: cmd, respond, client }) => {
    if (inbox) {
      // Durable before the ack: if this write fails, Slack gets no ack and tells the user.
      const id = `slack:${cmd.team_id}:${cmd.trigger_id}`;
      const payload = {
        text: cmd.text.trim() || 'help',
        user: cmd.user_id,
        channel: cmd.channel_id,
        channelName: cmd.channel_name,
        responseUrl: cmd.response_url,
      };
      const fresh = await inbox.accept(id, 'command', payload);
      await ack();
      if (fresh) inbox.enqueue(id, { kind: 'command', payload });
      else logger.info({ id }, 'a redelivered command: the first delivery answers it; not posting again');
      return;
    }
    await ack();
    afterAck(() => runCommand(cmd, respond, client));
  });

  const runCommand = async (cmd: SlashCommand, respond: RespondFn, client: WebClient): Promise<void> => {
    const channel = cmd.channel_id;
    const key = cmd.trigger_id ? `slack:${cmd.team_id}:${cmd.trigger_id}` : undefined;
    try {
      const text = cmd.text.trim() || 'help';
      const reply = await execute({ text, user: cmd.user_id, channel, idempotencyKey: key });
      if (reply.replayed) {
        logger.info({ key }, 'a redelivered command: the first delivery answers it; not posting again');
        return;
      }
      if (reply.ephemeral || reply.status !== 'ok') return await respondEphemeral(respond, reply);
      const claim = reply.operation ? `op:${reply.operation.id}` : key ? `key:${key}` : undefined;
      if (claim && !posted.claim(claim)) {
        logger.info({ claim }, 'reply already posted for this request; not posting again');
        return;
      }
      let ts: string;
      try {
        const res = await client.chat.postMessage({
          channel,
          text: renderReplyText(reply),
          blocks: renderReplyBlocks(reply),
          unfurl_links: false,
        });
        ts = String(res.ts);
      } catch (err) {
        if (claim) posted.release(claim);
        const channelName = /^(privategroup|directmessage)$/.test(cmd.channel_name)
          ? undefined
          : cmd.channel_name;
        const known = toSlackError(err, { method: 'chat.postMessage', channel, channelName });
        if (known.code !== 'NOT_ALLOWED' && known.code !== 'NOT_FOUND') throw known;
        await respondEphemeral(
          respond,
          `${renderReplyText(reply)}\n:warning: ${escapeMrkdwn(known.message)}`,
        );
        return;
      }
      if (reply.operation) await service.attachMessage(reply.operation.id, { channel, ts });
    } catch (err) {
      await respondEphemeral(respond, failureLine(err));
    }
  };

  // ---------------------------------------------------------------- approve / reject buttons
  app.action<BlockAction<ButtonAction>>(SLACK_ACTION_PATTERN, async ({ ack, body, action, client }) => {
    const user = body.user.id;
    const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
    const verb = SLACK_ACTION_PATTERN.exec(action.action_id)?.[1];
    const [opId, role, ...extra] = String(action.value ?? '').split('|');
    const validValue = ID_PATTERN.test(opId ?? '') && (role === undefined || ID_PATTERN.test(role)) && extra.length === 0;
    if (inbox && verb === 'approve' && validValue) {
      const id = `slack:${body.team?.id ?? ''}:${body.trigger_id}`;
      const payload = { text: `approve ${opId}`, user, channel, fromHome: body.view?.type === 'home' };
      const fresh = await inbox.accept(id, 'action', payload);
      await ack();
      if (fresh) inbox.enqueue(id, { kind: 'action', payload });
      return;
    }
    await ack();
    try {
      if (!validValue) {
        throw new InputError('That button carries an invalid value; use `approve <operation-id>` instead.');
      }
      if (verb === 'reject') {
        const view = rejectModal({ op: opId!, channel, ts: body.container?.message_ts as string | undefined });
        await client.views.open({ trigger_id: body.trigger_id, view }).catch((err: unknown) => {
          throw toSlackError(err, { method: 'views.open' });
        });
        return;
      }
      const reply = await execute({
        text: `approve ${opId}`,
        user,
        channel,
        idempotencyKey: `slack:${body.team?.id ?? ''}:${body.trigger_id}`,
      });
      await tellUser(client, user, channel, reply);
      if (body.view?.type === 'home') await publishHome(client, user);
    } catch (err) {
      await tellUser(client, user, channel, failureLine(err));
    }
  });

  // ---------------------------------------------------------------- reject modal submitted
  app.view(REJECT_MODAL_ID, async ({ ack, body, view, client }) => {
    const meta = parseRejectMetadata(view.private_metadata);
    const reason = (view.state.values.reason?.reason?.value ?? '').replace(/\s+/g, ' ').trim();
    if (meta && !reason) {
      await ack({ response_action: 'errors', errors: { reason: 'Say why you reject it.' } });
      return;
    }
    const user = body.user.id;
    if (inbox && meta) {
      const id = `slack:view:${view.id}`;
      const text = `reject ${meta.op} "${reason.replace(/["\\]/g, '\\$&')}"`;
      const payload = { text, user, channel: meta.channel };
      const fresh = await inbox.accept(id, 'action', payload);
      await ack();
      if (fresh) inbox.enqueue(id, { kind: 'action', payload });
      return;
    }
    await ack();
    try {
      if (!meta)
        throw new InputError(
          'That form is not valid any more; use `reject <operation-id> <reason>` instead.',
        );
      const reply = await execute({
        // Quoted as one word: apostrophes, leading dashes and the like stay part of the reason.
        text: `reject ${meta.op} "${reason.replace(/["\\]/g, '\\$&')}"`,
        user,
        channel: meta.channel,
        idempotencyKey: `slack:view:${view.id}`,
      });
      await tellUser(client, user, meta.channel, reply);
    } catch (err) {
      await tellUser(client, user, meta?.channel, failureLine(err));
    }
  });

  // ---------------------------------------------------------------- App Home
  const publishHome = async (client: WebClient, user: string) => {
    try {
      const [matrix, pending, tokens] = await Promise.all([
        service.matrix(user),
        service.pendingFor(user),
        service.execute({ text: 'token list', user, source: 'slack' }),
      ]);
      const view = renderHomeView(matrix, pending);
      // The viewer's active API tokens (never the tokens themselves): one small section at the end.
      type Listed = { id: string; label: string | null; createdAt: string; lastUsedAt: string | null; revokedAt: string | null };
      const active = ((tokens.data as { tokens?: Listed[] } | undefined)?.tokens ?? []).filter((t) => !t.revokedAt);
      const day = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : 'never');
      const lines = active
        .slice(0, 10)
        .map((t) => `• \`${t.id}\` ${escapeMrkdwn(t.label ?? '(no label)')}: created ${day(t.createdAt)}, last used ${day(t.lastUsedAt)}`);
      if (active.length > 10) lines.push(`…and ${active.length - 10} more (\`/conveyor token list\`)`);
      const text = [
        '*Your API tokens* (for `conveyor run` and the HTTP API)',
        ...(lines.length ? lines : ['None. `/conveyor token create [label]` makes one, shown once, only to you.']),
      ].join('\n');
      if (tokens.status === 'ok' && view.blocks.length + 2 <= 100) {
        view.blocks.push({ type: 'divider' }, { type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } });
      }
      await client.views.publish({ user_id: user, view });
    } catch (err) {
      const line = failureLine(err);
      await client.views
        .publish({
          user_id: user,
          view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: line } }] },
        })
        .catch((e: unknown) =>
          logger.warn({ err: toSlackError(e, { method: 'views.publish' }) }, 'App Home not published'),
        );
    }
  };

  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await publishHome(client, event.user);
  });

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

/** Bolt's Logger interface over a pino-like logger (Bolt passes free-form arguments). */
function toBoltLogger(log: SlackAppLogger): Logger {
  let level = LogLevel.INFO;
  const emit =
    (fn: keyof SlackAppLogger) =>
    (...msg: unknown[]) => {
      const err = msg.find((m) => m instanceof Error);
      const text = msg
        .filter((m) => !(m instanceof Error))
        .map((m) => (typeof m === 'string' ? m : safeJson(m)))
        .join(' ')
        .replace(/xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+/g, '[token]');
      log[fn](err ? { component: 'bolt', err } : { component: 'bolt' }, text);
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Claims remembered by this process (bounded): a reply is posted once per operation or request. */
class RecentKeys {
  private readonly keys = new Set<string>();
  constructor(private readonly limit: number) {}
  claim(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }
  release(key: string): void {
    this.keys.delete(key);
  }
}

interface RejectMetadata {
  op: string;
  channel?: string;
  ts?: string;
}

function rejectModal(meta: RejectMetadata): ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_MODAL_ID,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'Reject request' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `Reject operation \`${meta.op}\`?` } },
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'reason', multiline: true, max_length: 500 },
      },
    ],
  };
}

/** The modal's metadata came back through Slack: check every field before use. */
function parseRejectMetadata(raw: string): RejectMetadata | null {
  try {
    const meta = JSON.parse(raw) as Record<string, unknown>;
    const op = meta.op;
    const channel = meta.channel;
    const ts = meta.ts;
    if (typeof op !== 'string' || !ID_PATTERN.test(op)) return null;
    if (channel !== undefined && (typeof channel !== 'string' || !/^[A-Z0-9]{1,32}$/.test(channel)))
      return null;
    if (ts !== undefined && (typeof ts !== 'string' || !/^\d{1,12}\.\d{1,8}$/.test(ts))) return null;
    return { op, channel, ts };
  } catch {
    return null;
  }
}
