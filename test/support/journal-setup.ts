/**
 * Workspace for the journal pipeline tests: the sandbox in a temp cwd (its state switched to
 * in-memory PGlite, so a start costs no first-open of a PGlite folder), an in-process `serve`
 * found through `.conveyor/sandbox/serve.json` like the CLI finds it, HTTP helpers for the
 * journal API and `/api/run`, and the export watcher and import agents built the way
 * `src/journal/cli.ts` builds them.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { buildConsulKv, buildObjectStore, type ComposeOptions } from '../../src/compose.js';
import type { Reply } from '../../src/core/reply.js';
import {
  type JournalEvent,
  type JournalExportOptions,
  JournalExportWatcher,
} from '../../src/journal/export-watcher.js';
import { ImportAgent, type ImportReport } from '../../src/journal/import-agent.js';
import { HttpVersionRegistry } from '../../src/journal/version-registry.js';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';

export interface JournalWorkspace {
  /** The temp cwd of serve and of the CLI children. */
  root: string;
  sandboxDir: string;
  /** The local object store folder (`<root>/.conveyor/sandbox/objects`). */
  objectsDir: string;
  remove(): void;
}

export async function makeJournalWorkspace(): Promise<JournalWorkspace> {
  const root = mkdtempSync(join(tmpdir(), 'conveyor-journal-'));
  const sandbox = await ensureSandbox(root);
  const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as { state: { url: string }; apps: { name: string }[] };
  raw.state = { url: 'pglite:memory' };
  raw.apps = raw.apps.filter((a) => a.name !== 'worker'); // journals need no image app
  writeFileSync(sandbox.configFile, stringify(raw));
  return {
    root,
    sandboxDir: sandbox.dir,
    objectsDir: join(sandbox.dir, 'objects'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Every file below `dir` (relative paths); [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  try {
    return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((d) => d.isFile())
      .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
      .sort();
  } catch {
    return [];
  }
}

export interface ApiAnswer {
  status: number;
  text: string;
  /** The parsed body (null when it is not JSON); tests read arbitrary answers from it. */
  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, checked by the assertions
  json: any;
}

export interface JournalServer {
  server: RunningServer;
  port: number;
  baseUrl: string;
  /** The local token serve wrote to serve.json. */
  token: string;
  api(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiAnswer>;
  /** A chat command through the local `/api/run` endpoint. */
  run(text: string, user: string): Promise<Reply>;
  /** `journal status` as env → { pointsAt, lastImport, next }. */
  status(): Promise<Record<string, { pointsAt: string; lastImport: string; next: string }>>;
  stop(): Promise<void>;
}

export async function startJournalServer(
  ws: JournalWorkspace,
  env: Record<string, string> = {},
  compose: Partial<ComposeOptions> = {},
): Promise<JournalServer> {
  const server = await startServer({
    cwd: ws.root,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    env: { LOG_LEVEL: 'silent', ...env },
    log: pino({ level: 'silent' }),
    compose,
  });
  const info = JSON.parse(readFileSync(join(ws.sandboxDir, 'serve.json'), 'utf8')) as { port: number; token: string };
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const api: JournalServer['api'] = async (method, path, options = {}) => {
    const token = options.token === undefined ? info.token : options.token;
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...options.headers,
      },
      body:
        options.body === undefined
          ? undefined
          : typeof options.body === 'string'
            ? options.body
            : JSON.stringify(options.body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, text, json };
  };
  return {
    server,
    port: server.port,
    baseUrl,
    token: info.token,
    api,
    async run(text, user) {
      const answer = await api('POST', '/api/run', { body: { text, user } });
      if (answer.status !== 200) throw new Error(`/api/run answered ${answer.status}: ${answer.text}`);
      return answer.json as Reply;
    },
    async status() {
      const reply = (await api('POST', '/api/run', { body: { text: 'journal status', user: 'U_DEMO' } })).json as Reply;
      const rows = (reply.data as { rows: string[][] }).rows;
      return Object.fromEntries(rows.map((r) => [r[0]!, { pointsAt: r[2]!, lastImport: r[3]!, next: r[5]! }]));
    },
    stop: () => server.stop(),
  };
}

/** Write a journal and its sidecar into `dir` (the journal first, as an exporter would). */
export function dropJournal(dir: string, name: string, content: string, mandators: string[] = ['tech-head']): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, `${name}.meta.json`), JSON.stringify({ ticket: 'CHG0001234', mandators }));
}

/** Poll `probe` until it returns something truthy; throws naming `what` after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const got = await probe();
      if (got) return got;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sandboxConfig = (ws: JournalWorkspace) => parse(readFileSync(join(ws.sandboxDir, 'conveyor.yaml'), 'utf8'));

/** The export watcher of `journal-watch`, in-process. */
export async function makeWatcher(
  ws: JournalWorkspace,
  srv: JournalServer,
  options: Pick<
    Partial<JournalExportOptions>,
    'notify' | 'tickets' | 'objects' | 'registry' | 'log' | 'retryLaterMs' | 'ticketBackoff'
  > & { cluster: string; dir: string; token?: string; events?: JournalEvent[] },
) {
  const { parseConfig } = await import('../../src/config/load.js');
  const config = parseConfig(stringify(sandboxConfig(ws)));
  const journal = config.journal!;
  return new JournalExportWatcher({
    cluster: options.cluster,
    dir: options.dir,
    clusters: journal.clusters,
    objects: options.objects ?? (await buildObjectStore(config, ws.sandboxDir)),
    prefix: 'journals',
    registry: options.registry ?? new HttpVersionRegistry({ baseUrl: srv.baseUrl, token: options.token ?? srv.token }),
    notify: async (event) => {
      options.events?.push(event);
      await options.notify?.(event);
    },
    tickets: options.tickets,
    log: options.log,
    retryLaterMs: options.retryLaterMs,
    ticketBackoff: options.ticketBackoff,
    retry: { retries: 2, minTimeout: 50, maxTimeout: 200 },
    awaitWriteFinishMs: 150,
  });
}

export interface RunningAgent {
  agent: ImportAgent;
  reports: ImportReport[];
  stop(): Promise<void>;
}

/**
 * The import agent of `journal-agent --env <env>`, in-process: it follows its key through the
 * server's Consul-shaped KV endpoint (or `kvPort`, e.g. a counting proxy in front of it).
 */
export async function startAgent(
  ws: JournalWorkspace,
  srv: JournalServer,
  options: { env: string; importCommand: string[]; kvPort?: number; stateFile?: string; waitMs?: number },
): Promise<RunningAgent> {
  const { parseConfig } = await import('../../src/config/load.js');
  const config = parseConfig(stringify(sandboxConfig(ws)));
  const kv = await buildConsulKv({ host: '127.0.0.1', port: options.kvPort ?? srv.port, secure: false }, srv.token);
  const ac = new AbortController();
  const reports: ImportReport[] = [];
  const agent = new ImportAgent({
    env: options.env,
    key: `journal_version/${options.env}`,
    kv,
    objects: await buildObjectStore(config, ws.sandboxDir),
    resolveVersion: async (version) => {
      const answer = await srv.api('GET', `/api/journal/versions/${encodeURIComponent(version)}`);
      if (answer.status !== 200) throw new Error(`version lookup answered ${answer.status}`);
      const v = answer.json as { objectKey: string; sha256: string; size: number; file: string };
      return { objectKey: v.objectKey, sha256: v.sha256, size: v.size, file: v.file };
    },
    importCommand: options.importCommand,
    timeoutMs: 30_000,
    stateFile: options.stateFile ?? join(ws.sandboxDir, '.conveyor', `journal-agent-${options.env}.json`),
    report: async (result) => {
      const answer = await srv.api('POST', '/api/journal/imports', { body: result });
      if (answer.status >= 300) throw new Error(`import report answered ${answer.status}`);
      reports.push(result);
    },
    signal: ac.signal,
    backoff: { minMs: 50, maxMs: 500 },
    downloadRetries: 1,
    waitMs: options.waitMs ?? 2000,
  });
  const running = agent.run();
  return {
    agent,
    reports,
    async stop() {
      ac.abort();
      await running.catch(() => {});
    },
  };
}
