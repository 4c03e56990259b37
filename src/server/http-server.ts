/**
 * A small router over node:http. Every module that serves HTTP registers its routes here, so
 * one port serves Slack, GitHub webhooks, the journal API, health and metrics.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { InputError, isConveyorError } from '../core/errors.js';

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
) => Promise<void> | void;

export interface Route {
  method: string;
  /** Exact path, or a pattern with named groups. */
  path: string | RegExp;
  handler: Handler;
}

export const MAX_BODY = 1024 * 1024;

/** An error that is answered with `status` and its message (a refusal, not a fault). */
export function httpError(status: number, message: string): Error & { status: number } {
  return Object.assign(new Error(message), { status });
}

/**
 * Read a body of at most `limit` bytes. A declared Content-Length over the limit is refused
 * before a byte is read; a body that grows past it is cut off as soon as it does.
 */
export async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw httpError(413, `request body too large (limit ${limit} bytes)`);
  }
  if (req.readableEnded) return Buffer.alloc(0); // read already (as `for await` would find it)
  // Events rather than `for await`: an async iterator per request costs more than the read.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | null) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done(httpError(413, `request body too large (limit ${limit} bytes)`));
        req.resume(); // the rest is read and dropped; the answer can still be sent
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(null);
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('the request was closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export async function readJson(req: IncomingMessage, limit = MAX_BODY): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8') || 'null');
  } catch {
    throw httpError(400, 'the body is not valid JSON');
  }
}

/**
 * The one way an HTTP body becomes data: read (bounded), parse, validate with the surface's
 * zod schema. Anything else (null, an array, a missing or mistyped field) is a 400 naming the
 * first problems, never a TypeError further in.
 */
export async function readJsonWith<S extends z.ZodType>(
  req: IncomingMessage,
  schema: S,
  what: string,
  limit = MAX_BODY,
): Promise<z.output<S>> {
  return parseWith(schema, await readJson(req, limit), what);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
      .join('; ');
    throw new InputError(`invalid ${what}: ${problems}`);
  }
  return parsed.data;
}

/**
 * At most `max` large bodies read at once per surface: a flood of big requests is answered
 * 503 instead of being buffered together.
 */
export class BodyGate {
  private active = 0;
  constructor(
    readonly max: number,
    /** Bodies declared at or below this size pass without a slot. */
    readonly smallBytes = 64 * 1024,
  ) {}
  /** A release function, or null when every slot is taken. */
  enter(req: IncomingMessage): (() => void) | null {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared <= this.smallBytes) return () => {};
    if (this.active >= this.max) return null;
    this.active += 1;
    let released = false;
    return () => {
      if (!released) this.active -= 1;
      released = true;
    };
  }
}

let guardInstalled = false;

/**
 * The last line of defence: an exception or rejection nothing caught is logged (with a
 * metric-friendly message) and the process keeps serving. Request handlers never rely on it —
 * every request's errors are answered where they happen — but a bug in a library callback
 * must not take every endpoint down with it.
 */
export function installProcessGuard(log: Pick<Logger, 'error'>, onFault: (kind: string) => void = () => {}): void {
  if (guardInstalled) return;
  guardInstalled = true;
  process.on('uncaughtException', (err) => {
    onFault('uncaughtException');
    log.error({ err }, 'an uncaught exception was contained; serving on');
  });
  process.on('unhandledRejection', (err) => {
    onFault('unhandledRejection');
    log.error({ err }, 'an unhandled rejection was contained; serving on');
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const STATUS_OF: Record<string, number> = {
  INPUT: 400,
  NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UPSTREAM: 502,
  CONFIG: 500,
};

export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m ? m[1]! : null;
}

export class HttpServer {
  private readonly routes: Route[] = [];
  readonly server: Server;
  fallback: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  private draining = false;
  private closing = false;
  /** Requests being answered; writes (any method but GET/HEAD) are never cut by close(). */
  private readonly inFlight = new Map<ServerResponse, { req: IncomingMessage; write: boolean }>();

  /**
   * `onFault` counts what went wrong unexpectedly (a request answered 5xx, an exception or
   * rejection the process guard contained), e.g. into a Prometheus counter.
   */
  constructor(
    private readonly log: Logger,
    private readonly onFault: (kind: 'request' | 'uncaughtException' | 'unhandledRejection') => void = () => {},
  ) {
    this.server = createServer((req, res) => {
      this.inFlight.set(res, { req, write: req.method !== 'GET' && req.method !== 'HEAD' });
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.closing) this.server.closeIdleConnections();
      });
      this.dispatch(req, res).catch((err: unknown) => this.fail(req, res, err));
    });
    this.server.on('clientError', (err, socket) => {
      this.log.warn({ err: (err as Error).message }, 'malformed HTTP request refused');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.server.keepAliveTimeout = 5_000;
  }

  add(method: string, path: string | RegExp, handler: Handler): this {
    this.routes.push({ method, path, handler });
    return this;
  }

  /** Stop taking requests: new ones get 503 while in-flight ones finish. */
  drain(): void {
    this.draining = true;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw httpError(400, 'malformed request target');
    }
    if (this.draining && url.pathname !== '/healthz') {
      sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
      return;
    }
    for (const route of this.routes) {
      if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) continue;
      let params: Record<string, string> | null = null;
      if (typeof route.path === 'string') params = route.path === url.pathname ? {} : null;
      else {
        const m = route.path.exec(url.pathname);
        params = m ? { ...(m.groups ?? {}) } : null;
      }
      if (!params) continue;
      try {
        await route.handler(req, res, params);
      } catch (err) {
        this.fail(req, res, err, url.pathname);
      }
      return;
    }
    if (this.fallback) return this.fallback(req, res);
    sendJson(res, 404, { error: 'not found' });
  }

  /** Answer a failed request: a refusal (4xx) with its message, a fault (5xx) with a logged line. */
  private fail(req: IncomingMessage, res: ServerResponse, err: unknown, path = (req.url ?? '').split('?')[0]): void {
    const raw = (err as { status?: unknown } | null)?.status;
    const status =
      typeof raw === 'number' && raw >= 400 && raw < 600
        ? raw
        : ((isConveyorError(err) ? STATUS_OF[err.code] : 500) ?? 500);
    const fault = status >= 500 && !isConveyorError(err);
    if (fault) {
      this.log.error({ err, path: path?.slice(0, 200) }, 'request failed');
      this.onFault('request');
    } else
      this.log.warn(
        { status, path: path?.slice(0, 200), err: (err as Error)?.message?.slice(0, 300) },
        'request refused',
      );
    try {
      if (!res.headersSent) sendJson(res, status, { error: fault ? 'internal error' : (err as Error).message });
      else res.end();
    } catch {
      res.destroy();
    }
  }

  listen(port: number, host: string): Promise<number> {
    installProcessGuard(this.log, (kind) => this.onFault(kind as 'uncaughtException' | 'unhandledRejection'));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /**
   * Stop listening; idle connections close now. Requests that change something (a promotion
   * being applied, an approval) are answered to the end however long they take; reads still
   * held after a grace (blocking queries) are cut, their clients retry elsewhere.
   */
  close(graceMs = 2_000): Promise<void> {
    this.closing = true;
    for (const res of this.inFlight.keys()) if (!res.headersSent) res.setHeader('connection', 'close');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const { req, write } of this.inFlight.values()) if (!write) req.socket.destroy();
      }, graceMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }
}
