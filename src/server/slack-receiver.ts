/**
 * Slack over HTTP, checked at the edge before Bolt sees anything: signature headers first
 * (missing, malformed, older than five minutes or further in the future than a small clock
 * skew: 401), then a bounded body, then Bolt's own signature check, then the body's shape
 * (slack-schemas.ts: `payload=null`, a missing or repeated field: 400). Only a body that
 * passes all of it reaches `app.processEvent`, whose ack answers the HTTP request.
 * Nothing a request carries can throw past this receiver: every failure is one answered
 * status and one logged line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type App, isValidSlackRequest, type Receiver } from '@slack/bolt';
import type { z } from 'zod';
import type { Log } from '../core/ports/log.js';
import { BodyGate, httpError, readBody } from './http-server.js';
import { eventsBody, interactionPayload, slashCommandBody } from './slack-schemas.js';

/** What the receiver logs to: the core's one Log shape. */
export type SlackReceiverLog = Pick<Log, 'info' | 'warn' | 'error'>;

export interface SlackReceiverOptions {
  signingSecret: string;
  log: SlackReceiverLog;
  /** Largest body accepted (default 512 KiB; Slack's biggest, a view submission, is far less). */
  maxBody?: number;
  /** How far in the future a timestamp may be (clock skew), in seconds. Default 60. */
  futureSkewSec?: number;
  /** How old a timestamp may be, in seconds. Default 300 (Slack's own rule). */
  maxAgeSec?: number;
  now?: () => number;
  /** Called after each request Bolt acked (not for refusals or Slack's own checks). */
  onAck?: () => void;
}

export const SLACK_MAX_BODY = 512 * 1024;
/** Bodies over 64 KiB read at once (Slack's own are far smaller; the rest wait for a retry). */
export const SLACK_LARGE_BODIES = 8;

const header = (req: IncomingMessage, name: string): string | null => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
};

export class SlackHttpReceiver implements Receiver {
  private app: App | null = null;
  private readonly gate = new BodyGate(SLACK_LARGE_BODIES);
  private readonly o: Required<Omit<SlackReceiverOptions, 'log' | 'signingSecret' | 'onAck'>> &
    Pick<SlackReceiverOptions, 'log' | 'signingSecret' | 'onAck'>;

  constructor(options: SlackReceiverOptions) {
    this.o = {
      maxBody: SLACK_MAX_BODY,
      futureSkewSec: 60,
      maxAgeSec: 300,
      now: () => Date.now(),
      ...options,
    };
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** Answer one request on /slack/events; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let acked = false;
    const answer = (status: number, body: unknown = '') => {
      if (acked || res.headersSent) return;
      acked = true;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    try {
      const { body, retryNum, retryReason } = await this.accept(req);
      if (body === 'ssl_check') return answer(200);
      if (body.type === 'url_verification') return answer(200, { challenge: String(body.challenge) });
      if (body.type === 'view_closed' || body.type === 'app_rate_limited') return answer(200);
      if (!this.app) throw httpError(503, 'the Slack app is not ready');
      await this.app.processEvent({
        body,
        retryNum,
        retryReason,
        ack: async (response?: unknown) => {
          if (acked) return;
          answer(200, response === undefined ? '' : (response as object | string));
          this.o.onAck?.();
        },
      });
      if (!acked) {
        this.o.log.warn({ type: body.type ?? body.command }, 'slack request matched no listener');
        answer(404, { error: 'no listener for this request' });
      }
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (typeof status === 'number' && status < 500) {
        this.o.log.warn({ status, reason: (err as Error).message.slice(0, 300) }, 'slack request refused');
        answer(status, { error: (err as Error).message });
      } else {
        this.o.log.error({ err }, 'slack request failed');
        answer(500, { error: 'internal error' });
      }
    }
  }

  /** Headers, body, signature and shape; the parsed body or an error with a 4xx status. */
  private async accept(
    req: IncomingMessage,
  ): Promise<{ body: Record<string, unknown> | 'ssl_check'; retryNum?: number; retryReason?: string }> {
    const signature = header(req, 'x-slack-signature');
    const stamp = header(req, 'x-slack-request-timestamp');
    if (!signature || !/^v0=[0-9a-f]{64}$/.test(signature) || !stamp || !/^\d{1,12}$/.test(stamp)) {
      req.resume();
      throw httpError(401, 'missing or malformed Slack signature headers');
    }
    const nowSec = Math.floor(this.o.now() / 1000);
    const ts = Number(stamp);
    if (ts < nowSec - this.o.maxAgeSec) {
      req.resume();
      throw httpError(401, 'the request timestamp is too old (a replay?)');
    }
    if (ts > nowSec + this.o.futureSkewSec) {
      req.resume();
      throw httpError(401, 'the request timestamp is in the future beyond the allowed clock skew');
    }
    const release = this.gate.enter(req);
    if (!release) {
      req.resume();
      throw httpError(503, 'too many large requests at once; retry later');
    }
    let raw: string;
    try {
      raw = (await readBody(req, this.o.maxBody)).toString('utf8');
    } finally {
      release();
    }
    const valid = isValidSlackRequest({
      signingSecret: this.o.signingSecret,
      body: raw,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': ts },
      nowMilliseconds: this.o.now(),
    });
    if (!valid) throw httpError(401, 'the Slack signature does not match');
    const retry = header(req, 'x-slack-retry-num');
    const retryNum = retry && /^\d{1,3}$/.test(retry) ? Number(retry) : undefined;
    const retryReason = header(req, 'x-slack-retry-reason')?.slice(0, 100);
    return { body: parseSlackBody(header(req, 'content-type') ?? '', raw), retryNum, retryReason };
  }
}

function shape<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw httpError(
      400,
      `invalid ${what}: ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'unexpected shape'}`,
    );
  }
  return parsed.data;
}

/** The body of a verified request as one of the shapes Conveyor answers; 400 otherwise. */
export function parseSlackBody(contentType: string, raw: string): Record<string, unknown> | 'ssl_check' {
  if (/^application\/json\b/i.test(contentType)) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw httpError(400, 'the body is not valid JSON');
    }
    return shape(eventsBody, json, 'Slack event');
  }
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    throw httpError(415, 'Slack requests are form-encoded or JSON');
  }
  const form = new URLSearchParams(raw);
  const fields: Record<string, string> = {};
  for (const [key, value] of form) {
    if (key in fields) throw httpError(400, `the field "${key.slice(0, 40)}" appears more than once`);
    fields[key] = value;
  }
  if (fields.ssl_check === '1') return 'ssl_check';
  if ('payload' in fields) {
    let json: unknown;
    try {
      json = JSON.parse(fields.payload!);
    } catch {
      throw httpError(400, 'payload is not valid JSON');
    }
    return shape(interactionPayload, json, 'Slack interaction');
  }
  return shape(slashCommandBody, fields, 'slash command');
}
