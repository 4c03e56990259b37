/**
 * What every Slack listener shares: the command service, the durable inbox, the bounded queue
 * for work after an ack, and the few ways Conveyor answers a person (a failure line, a private
 * message, the App Home view). Built once by createSlackApp (../slack-app.ts) and handed to each
 * listener module under ./listeners/.
 */
import { randomUUID } from 'node:crypto';
import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { escapeMrkdwn, renderHomeView, renderReplyBlocks, renderReplyText } from '../../adapters/slack-blocks.js';
import { toSlackError } from '../../adapters/slack-notifier.js';
import type { CommandInvocation, CommandService } from '../../core/command-service.js';
import { InputError, isConveyorError } from '../../core/errors.js';
import type { Log } from '../../core/ports/log.js';
import type { Reply } from '../../core/reply.js';
import type { SlackInboxWorker } from '../slack-inbox.js';
import { AckFirstQueue } from './work-queue.js';

/** The core's one Log shape (pino fits it): `logger.error({ err }, 'message')`. */
export type SlackAppLogger = Log;

/** Action values are `opId` or `opId|role`; the service decides whether the id means anything. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A personal API token pasted into Slack by mistake: never kept in the inbox or logs as typed. */
const PASTED_TOKEN = /cvy_[A-Za-z0-9_-]{8,}/g;

export function withoutTokens(text: string): string {
  return text.replace(PASTED_TOKEN, 'cvy_[removed]');
}

export interface SlackSurface {
  service: CommandService;
  logger: SlackAppLogger;
  /** The durable inbox's worker; null in transport-only unit tests. */
  inbox: SlackInboxWorker | null;
  /** Run work after an ack, a few at a time (one at a time while acks come in a burst). */
  afterAck(task: () => Promise<void>): void;
  /** One request acked (the work queue's measure of a burst). */
  noteAck(): void;
  /** True when the queue after the acks is full: new commands are answered "busy" at once. */
  saturated(): boolean;
  /** Count and log one command turned away as busy. */
  busy(user: string): void;
  /** Resolves when every queued piece of work has finished. */
  idle(): Promise<void>;
  execute(invocation: Omit<CommandInvocation, 'source'>): Promise<Reply>;
  /** One short line for an error (known errors as they are, others with an id). */
  failureLine(err: unknown): string;
  respondEphemeral(respond: RespondFn, reply: Reply | string): Promise<void>;
  /** Tell one user something privately: in the channel when there is one, else in the app's DM. */
  tellUser(client: WebClient, user: string, channel: string | undefined, reply: Reply | string): Promise<void>;
  publishHome(client: WebClient, user: string): Promise<void>;
}

export interface SurfaceOptions {
  service: CommandService;
  logger: SlackAppLogger;
  workConcurrency?: number;
  /** Work waiting after its ack beyond which new slash commands are answered "busy". */
  maxQueued?: number;
  newErrorId?: () => string;
  /** Counted when a command is turned away as busy. */
  onBusy?: () => void;
}

/** The default bound on work waiting after its ack (each item is one command's run and reply). */
export const DEFAULT_MAX_QUEUED = 2_000;

export function createSurface(o: SurfaceOptions): Omit<SlackSurface, 'inbox'> {
  const { service, logger } = o;
  const newErrorId = o.newErrorId ?? (() => randomUUID().slice(0, 8));
  /**
   * What runs after an ack (the command, its reply) waits here, a few at a time, and one at a
   * time under a burst: the event loop keeps answering Slack's requests (which must be acked
   * within 3 s) instead of running every command at once.
   */
  const queue = new AckFirstQueue({ concurrency: o.workConcurrency ?? 4 });
  const maxQueued = o.maxQueued ?? DEFAULT_MAX_QUEUED;
  const pending = new Set<Promise<void>>();

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

  const publishHome = async (client: WebClient, user: string) => {
    try {
      const [matrix, pending, tokens] = await Promise.all([
        service.matrix(user),
        service.pendingFor(user),
        service.execute({ text: 'token list', user, source: 'slack' }),
      ]);
      const view = renderHomeView(matrix, pending);
      // The viewer's active API tokens (never the tokens themselves): one small section at the end.
      type Listed = {
        id: string;
        label: string | null;
        createdAt: string;
        lastUsedAt: string | null;
        revokedAt: string | null;
      };
      const active = ((tokens.data as { tokens?: Listed[] } | undefined)?.tokens ?? []).filter((t) => !t.revokedAt);
      const day = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : 'never');
      const lines = active
        .slice(0, 10)
        .map(
          (t) =>
            `• \`${t.id}\` ${escapeMrkdwn(t.label ?? '(no label)')}: created ${day(t.createdAt)}, last used ${day(t.lastUsedAt)}`,
        );
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

  return {
    service,
    logger,
    noteAck: () => queue.noteAck(),
    afterAck(task) {
      const done: Promise<void> = queue
        .run(task)
        .catch((err: unknown) => logger.error({ err }, 'slack work failed'))
        .finally(() => pending.delete(done));
      pending.add(done);
    },
    saturated: () => pending.size >= maxQueued,
    busy(user) {
      logger.warn({ user, queued: pending.size }, 'slack work queue full: a command was answered "busy"');
      o.onBusy?.();
    },
    async idle() {
      while (pending.size) await Promise.all(pending);
    },
    execute: (invocation) => service.execute({ ...invocation, source: 'slack' }),
    failureLine,
    async respondEphemeral(respond, reply) {
      const message =
        typeof reply === 'string'
          ? { text: reply }
          : { text: renderReplyText(reply), blocks: renderReplyBlocks(reply) };
      await respond({ response_type: 'ephemeral', replace_original: false, ...message }).catch((err: unknown) =>
        logger.warn({ err }, 'could not answer through response_url'),
      );
    },
    async tellUser(client, user, channel, reply) {
      const text = typeof reply === 'string' ? reply : renderReplyText(reply);
      const blocks = typeof reply === 'string' ? undefined : renderReplyBlocks(reply);
      try {
        if (channel) await client.chat.postEphemeral({ channel, user, text, ...(blocks ? { blocks } : {}) });
        else await client.chat.postMessage({ channel: user, text, ...(blocks ? { blocks } : {}) });
      } catch (err) {
        logger.warn({ err: toSlackError(err, { method: 'chat.postEphemeral', channel }) }, 'could not tell the user');
      }
    },
    publishHome,
  };
}
