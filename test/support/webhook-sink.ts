/**
 * A webhook receiver on 127.0.0.1 that records every POST (path, headers, raw body), for the
 * Slack incoming-webhook and generic JSON webhook notifiers. `failNext(n, status)` answers the
 * next n requests with an error status (to exercise retries).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export class WebhookSink {
  readonly received: SinkRequest[] = [];
  private failures: number[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookSink> {
    const server = createServer();
    const sink = new WebhookSink(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const fail = sink.failures.shift();
        if (fail) {
          res.writeHead(fail, { 'content-type': 'text/plain' }).end('failure');
          return;
        }
        sink.received.push({
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        // Slack incoming webhooks answer 200 "ok".
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  failNext(n: number, status: number): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
