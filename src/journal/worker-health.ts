/**
 * The small HTTP endpoint of journal-watch and journal-agent (`--health-port`, or HEALTH_PORT):
 * `/healthz` (the process is alive), `/readyz` (started, and the bot accepts its token) and
 * `/metrics` (Prometheus: Node's default metrics, unprefixed, and the worker's own series).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export type WorkerKind = 'journal-watch' | 'journal-agent';

export class WorkerHealth {
  readonly registry = new Registry();
  readonly botRequests = new Counter({
    name: 'conveyor_journal_bot_requests_total',
    help: 'Calls from this worker to the bot, by result (ok, unauthorized, error)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'conveyor_journal_worker_events_total',
    help: 'Journal exports (journal-watch: uploaded, waiting, rejected, failed) or imports (journal-agent: succeeded, failed) by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly readyGauge = new Gauge({
    name: 'conveyor_journal_worker_ready',
    help: '1 when the worker is started and the bot accepts its token',
    registers: [this.registry],
  });
  private started = false;
  private refused = false;
  private server: Server | null = null;

  constructor(
    readonly kind: WorkerKind,
    labels: Record<string, string>,
  ) {
    this.registry.setDefaultLabels({ worker: kind, ...labels });
    collectDefaultMetrics({ register: this.registry });
    this.readyGauge.set(0);
  }

  /** The worker has started (watching its folder / following its key). */
  markStarted(): void {
    this.started = true;
    this.update();
  }

  /** Every bot call's outcome: a refused token makes the worker unready until one succeeds. */
  botResult(result: 'ok' | 'unauthorized' | 'error'): void {
    this.botRequests.inc({ result });
    if (result === 'ok') this.refused = false;
    if (result === 'unauthorized') this.refused = true;
    this.update();
  }

  get ready(): boolean {
    return this.started && !this.refused;
  }

  private update(): void {
    this.readyGauge.set(this.ready ? 1 : 0);
  }

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
      if (path === '/healthz') return json(200, { ok: true, worker: this.kind });
      if (path === '/readyz')
        return json(this.ready ? 200 : 503, {
          ready: this.ready,
          started: this.started,
          botAcceptsToken: !this.refused,
        });
      if (path === '/metrics') {
        void this.registry.metrics().then((body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(body);
        });
        return;
      }
      json(404, { error: 'not found' });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
