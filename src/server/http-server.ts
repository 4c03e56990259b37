/**
 * A small router over node:http. Every module that serves HTTP registers its routes here, so
 * one port serves Slack, GitHub webhooks, the journal API, health and metrics.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isConveyorError } from '../core/errors.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void> | void;

export interface Route {
  method: string;
  /** Exact path, or a pattern with named groups. */
  path: string | RegExp;
  handler: Handler;
}

export const MAX_BODY = 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  try {
    return JSON.parse(body.toString('utf8') || 'null');
  } catch {
    throw Object.assign(new Error('the body is not valid JSON'), { status: 400 });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const STATUS_OF: Record<string, number> = { INPUT: 400, NOT_ALLOWED: 403, NOT_FOUND: 404, CONFLICT: 409, UPSTREAM: 502, CONFIG: 500 };

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

  constructor(private readonly log: Logger) {
    this.server = createServer((req, res) => {
      this.inFlight.set(res, { req, write: req.method !== 'GET' && req.method !== 'HEAD' });
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.closing) this.server.closeIdleConnections();
      });
      void this.dispatch(req, res);
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
    const url = new URL(req.url ?? '/', 'http://localhost');
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
        const status = (err as { status?: number }).status ?? (isConveyorError(err) ? STATUS_OF[err.code] : 500) ?? 500;
        if (status >= 500 && !isConveyorError(err)) this.log.error({ err, path: url.pathname }, 'request failed');
        if (!res.headersSent) sendJson(res, status, { error: status >= 500 && !isConveyorError(err) ? 'internal error' : (err as Error).message });
        else res.end();
      }
      return;
    }
    if (this.fallback) return this.fallback(req, res);
    sendJson(res, 404, { error: 'not found' });
  }

  listen(port: number, host: string): Promise<number> {
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
