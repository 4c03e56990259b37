/**
 * `conveyor serve`: the bot, the HTTP API and the controller in one process.
 * Shuts down gracefully on SIGTERM/SIGINT: stop taking requests, let steps in flight reach a
 * safe point, release leadership, close the store.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { resolveConfig } from '../cli-config.js';
import { startController } from '../compose/controller.js';
import {
  type ComposedRuntime,
  type ComposeOptions,
  compose,
  journalChain,
  wireControllerless,
} from '../compose/index.js';
import { buildPullRequestCommands } from '../compose/issueops.js';
import { readSecrets, secretValues } from '../config/secrets.js';
import { Dispatcher } from '../core/dispatcher.js';
import { createLogger } from '../core/log.js';
import { Metrics } from '../core/metrics.js';
import { reconcileJournalObjects } from '../journal/reconcile.js';
import { demoUsers } from '../sandbox/demo-users.js';
import { DEFAULT_RETENTION, startRetention } from '../store/retention.js';
import { addBoard } from './board/index.js';
import { HttpServer, sendJson } from './http-server.js';
import { addJournalRoutes } from './journal-routes.js';
import { addLocalApi } from './local-api.js';
import { removeServeInfo, type ServeInfo, writePrivate, writeServeInfo } from './serve-info.js';
import { mountSlack } from './slack-mount.js';
import { startingUp } from './start-memory.js';
import { addVerifyWorkerRoutes } from './verify-worker-routes.js';

export interface ServeOptions {
  configFile?: string;
  port?: number;
  host?: string;
  cwd: string;
  out: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Test seams: clients the composition root would otherwise build. */
  compose?: Partial<ComposeOptions>;
}

export interface RunningServer {
  port: number;
  runtime: ComposedRuntime;
  http: HttpServer;
  /** Graceful stop: refuse new requests, finish steps in flight, close everything. */
  stop(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const secrets = readSecrets(env);
  const log = options.log ?? createLogger({ secrets: secretValues(secrets) });
  const resolved = await resolveConfig(options.configFile, options.cwd, log);
  mkdirSync(dirname(resolved.serveInfoFile), { recursive: true });
  const runtime = await compose({
    config: resolved.config,
    baseDir: resolved.baseDir,
    log,
    sandbox: resolved.sandbox,
    env,
    metrics: new Metrics({ defaults: true }),
    ...options.compose,
  });
  wireControllerless(runtime);
  const service = new Dispatcher(runtime, runtime.commands);
  const http = new HttpServer(log, (kind) => runtime.metrics.faults.inc({ kind }));
  let ready = false;
  let info = { token: '' };
  http.add('GET', '/healthz', (_req, res) => sendJson(res, 200, { ok: true }));
  http.add('GET', '/readyz', async (_req, res) => {
    const storeOk = await runtime.state.db.query('SELECT 1').then(
      () => true,
      () => false,
    );
    sendJson(res, ready && storeOk ? 200 : 503, { ready: ready && storeOk, store: storeOk });
  });
  http.add('GET', '/metrics', async (_req, res) => {
    const pending = await runtime.store.countOperations({ states: ['awaiting-approval'] }).catch(() => null);
    if (pending !== null) runtime.metrics.approvalsPending.set(pending);
    const body = await runtime.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': runtime.metrics.registry.contentType });
    res.end(body);
  });
  addLocalApi(http, service, () => info.token, {
    sandbox: runtime.sandbox,
    tokens: runtime.tokens,
    ...(runtime.sandbox ? { demoUsers: demoUsers(runtime.config) } : {}),
  });
  addJournalRoutes(http, runtime, secrets, () => info.token);
  addVerifyWorkerRoutes(http, runtime, secrets, () => info.token);
  const board = addBoard(http, runtime, {
    db: runtime.state.db,
    secrets,
    serveToken: () => info.token,
    sandbox: resolved.sandbox,
    log: log.child({ component: 'board' }),
  });
  const slack = await mountSlack({
    http,
    service,
    config: resolved.config,
    secrets,
    log,
    metrics: runtime.metrics,
    inbox: { store: runtime.inbox, singleProcess: runtime.store.singleProcess, dir: runtime.state.db.dir },
  });
  const controller = await startController({
    runtime,
    http,
    secrets,
    log: log.child({ component: 'controller' }),
    comments: buildPullRequestCommands(runtime, service, log.child({ component: 'issueops' })),
  });
  const host = options.host ?? env.HOST ?? (resolved.sandbox ? '127.0.0.1' : '0.0.0.0');
  const port = await http.listen(options.port ?? secrets.PORT ?? 3000, host);
  info = announce(resolved.serveInfoFile, port, {
    embedded: resolved.config.state.url.startsWith('pglite:'),
    config: resolved.file,
  });
  await runtime.engine.sweep();
  runtime.engine.startSweeper();
  const reconcile = () =>
    reconcileJournalObjects(runtime).catch((err) =>
      log.warn({ err: (err as Error).message }, 'journal reconciliation failed'),
    );
  await reconcile();
  if (resolved.config.journal?.seedOnEmpty) {
    await journalChain(runtime)
      .seedIfEmpty()
      .catch((err) => log.warn({ err: (err as Error).message }, 'journal seeding at start failed'));
  }
  // Tables that only grow are pruned now and every 6 hours (state.retention; the audit log is kept).
  const stopRetention = startRetention(
    runtime.state.db,
    { ...DEFAULT_RETENTION, ...resolved.config.state.retention },
    {
      log: log.child({ component: 'retention' }),
    },
  );
  const reconciler = setInterval(() => void reconcile(), 5 * 60_000);
  reconciler.unref();
  ready = true;
  log.info({ port, host, sandbox: resolved.sandbox }, 'conveyor is serving');
  if (resolved.sandbox) {
    options.out(`Conveyor is serving the sandbox on http://${host}:${port}`);
    options.out(`  sandbox: ${resolved.baseDir} (bare repositories in repos/, configuration in conveyor.yaml)`);
    options.out('  try:     npx conveyor run "list" --as U_DEMO');
    options.out('           npx conveyor run "promote api" --as U_DEMO');
    options.out('           npx conveyor run "promote api prod" --as U_DEMO   (then approve as U_LEAD and U_PO)');
    options.out(
      '           npx conveyor run "diff development qa worker" --as U_DEMO   (an image app: GitOps overlays)',
    );
  } else {
    options.out(`Conveyor is serving on http://${host}:${port}`);
  }
  let stopping: Promise<void> | null = null;
  return {
    port,
    runtime,
    http,
    stop() {
      stopping ??= (async () => {
        ready = false;
        clearInterval(reconciler);
        http.drain();
        board.close();
        await controller.stop();
        await slack?.stop();
        // Requests in flight first (an approval applies its promotion inside the request),
        // then the steps they and the sweeper started.
        await http.close();
        await runtime.engine.stop();
        // The last paced edit of each operation message (its final state) goes out before the exit.
        await runtime.notifier
          ?.flush?.()
          .catch((err: unknown) => log.warn({ err }, 'could not send the last message edits'));
        stopRetention();
        removeServeInfo(resolved.serveInfoFile);
        await runtime.store.close();
      })();
      return stopping;
    },
  };
}

/**
 * The local token: kept in `local-token` beside serve.json and reused by every start, so
 * journal workers and CLIs that read it keep working across a restart of serve.
 */
function localToken(dir: string): string {
  const file = join(dir, 'local-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{32,}$/.test(token)) return token;
  }
  const token = randomBytes(24).toString('base64url');
  writePrivate(file, `${token}\n`);
  return token;
}

/** Write serve.json (pid, port, local token) so that `conveyor run` and the workers find serve. */
function announce(file: string, port: number, about: { embedded: boolean; config: string }): ServeInfo {
  return writeServeInfo(file, { pid: process.pid, port, token: localToken(dirname(file)), ...about });
}

export async function serve(options: ServeOptions): Promise<void> {
  const server = await startServer(options).finally(() => startingUp(false));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.runtime.log.info({ signal }, 'shutting down');
      void server.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
