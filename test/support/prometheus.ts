/**
 * A real Prometheus (Debian's `prometheus`) for tests: started on a free loopback port with a
 * temporary TSDB, scraping every second a tiny exporter the test serves and whose samples the
 * test sets. `stop()` ends both and removes the folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const prometheusMissing = existsSync(PROMETHEUS_BIN)
  ? null
  : `${PROMETHEUS_BIN} is not installed (apt-get install prometheus)`;

/** A port nothing listens on right now (bound and released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Exporter {
  /** Series text → value, e.g. `demo_error_ratio{app="api",version="1.4.1"}` → 0.01. */
  samples: Map<string, number>;
  port: number;
}

export interface RunningPrometheus {
  url: string;
  exporter: Exporter;
  /** The value Prometheus answers for an instant query now (null: no data). */
  value(query: string): Promise<number | null>;
  /** Wait (bounded) until Prometheus answers `expected` for `query`. */
  waitFor(query: string, expected: number | null, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrometheus(): Promise<RunningPrometheus> {
  const samples = new Map<string, number>();
  const exporterServer: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end([...samples].map(([series, v]) => `${series} ${v}\n`).join(''));
  });
  await new Promise<void>((r) => exporterServer.listen(0, '127.0.0.1', r));
  const exporterPort = (exporterServer.address() as AddressInfo).port;

  const dir = mkdtempSync(join(tmpdir(), 'conveyor-prometheus-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: demo',
      `    static_configs: [ { targets: ["127.0.0.1:${exporterPort}"] } ]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (c: Buffer) => {
    log = (log + c.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const value = async (query: string): Promise<number | null> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
    const first = body.data?.result?.[0];
    return first ? Number(first.value[1]) : null;
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    exporterServer.closeAllConnections();
    await new Promise<void>((r) => exporterServer.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  };
  const waitFor = async (query: string, expected: number | null, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 1000; i++) {
      const v = await value(query).catch(() => undefined);
      if (v === expected) return;
      if (Date.now() > deadline)
        throw new Error(`Prometheus did not answer ${expected} for ${query} (last: ${v}); ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  // Ready when it answers queries and has scraped the exporter once.
  try {
    await waitFor('up{job="demo"}', 1, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, exporter: { samples, port: exporterPort }, value, waitFor, stop };
}
