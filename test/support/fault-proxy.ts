/**
 * An HTTP proxy on 127.0.0.1 that injects faults in front of any loopback server (s3rver, fakes).
 *
 * Modes: `pass()`; `fail500(n)`: the next n requests get a 500 (S3-style XML error body), then
 * pass; `reset(n)`: the next n requests have their socket destroyed, then pass; `slow(ms)`: every
 * request is delayed by ms, then passed; `down()`: every connection is destroyed at once (the
 * client sees ECONNRESET, as close to "refused" as a listening socket gets).
 * Headers are forwarded unchanged (Host included, so SigV4 signatures still verify) except
 * hop-by-hop ones and `Expect` (answered here; it is never signed).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'fail500'; remaining: number }
  | { kind: 'reset'; remaining: number }
  | { kind: 'slow'; ms: number }
  | { kind: 'down' };

export interface FaultCounters {
  /** Requests (and connections refused while down) seen. */
  requests: number;
  passed: number;
  failed500: number;
  resets: number;
  refused: number;
  /** Requests by HTTP method (all modes). */
  methods: Record<string, number>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect']);

export class FaultProxy {
  private mode: FaultMode = { kind: 'pass' };
  readonly counters: FaultCounters = {
    requests: 0,
    passed: 0,
    failed500: 0,
    resets: 0,
    refused: 0,
    methods: {},
  };
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly target: { host: string; port: number },
  ) {}

  /** Start a proxy to `target` (e.g. `{ host: '127.0.0.1', port }`) on a free loopback port. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = http.createServer();
    const proxy = new FaultProxy(server, target);
    server.on('connection', (socket) => proxy.onConnection(socket));
    server.on('request', (req, res) => proxy.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get current(): FaultMode {
    return { ...this.mode };
  }

  pass(): void {
    this.mode = { kind: 'pass' };
  }
  fail500(n: number): void {
    this.mode = { kind: 'fail500', remaining: n };
  }
  reset(n: number): void {
    this.mode = { kind: 'reset', remaining: n };
  }
  slow(ms: number): void {
    this.mode = { kind: 'slow', ms };
  }
  down(): void {
    this.mode = { kind: 'down' };
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    if (this.mode.kind === 'down') {
      this.counters.requests++;
      this.counters.refused++;
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.counters.requests++;
    const method = req.method ?? 'GET';
    this.counters.methods[method] = (this.counters.methods[method] ?? 0) + 1;
    const mode = this.mode;
    if (mode.kind === 'down') {
      this.counters.refused++;
      req.socket.destroy();
      return;
    }
    if (mode.kind === 'reset') {
      this.counters.resets++;
      if (--mode.remaining <= 0) this.pass();
      req.socket.destroy();
      return;
    }
    if (mode.kind === 'fail500') {
      this.counters.failed500++;
      if (--mode.remaining <= 0) this.pass();
      const body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>' +
        '<Message>injected by the fault proxy</Message></Error>';
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    const delay = mode.kind === 'slow' ? mode.ms : 0;
    if (delay > 0) {
      req.pause();
      setTimeout(() => this.forward(req, res), delay);
    } else {
      this.forward(req, res);
    }
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    const upstream = http.request(
      { host: this.target.host, port: this.target.port, method: req.method, path: req.url, headers },
      (upRes) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upRes.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        }
        res.writeHead(upRes.statusCode ?? 502, out);
        upRes.pipe(res);
        upRes.on('end', () => this.counters.passed++);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('upstream unreachable');
      } else {
        res.destroy();
      }
    });
    req.on('aborted', () => upstream.destroy());
    req.pipe(upstream);
  }
}
