/**
 * `conveyor journal-watch` (modelling clusters) and `conveyor journal-agent` (execution
 * environments). Both reach the bot at journal.botUrl with JOURNAL_TOKEN — or, on the same
 * machine (the sandbox), at the running serve with its local token, as `conveyor run` does.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig, type ResolvedConfig } from '../cli-config.js';
import { buildConsulKv, buildObjectStore } from '../compose.js';
import { readSecrets, secretValues } from '../config/secrets.js';
import { ConfigError, InputError, NotAllowedError, UpstreamError } from '../core/errors.js';
import { crashPoint } from '../core/fault-points.js';
import { createLogger } from '../core/log.js';
import { ENV_NAME } from '../core/patterns.js';
import type { ChangeTickets, KvStore } from '../core/ports.js';
import { readServeInfo } from '../server/local-api.js';

type Out = { out: (s: string) => void; err: (s: string) => void };

interface BotAccess {
  baseUrl: string;
  token: string;
}

function botAccess(resolved: ResolvedConfig, env: NodeJS.ProcessEnv): BotAccess {
  const secrets = readSecrets(env);
  const configured = resolved.config.journal?.botUrl;
  if (configured) {
    if (!secrets.JOURNAL_TOKEN) throw new ConfigError('journal.botUrl is set but JOURNAL_TOKEN is not');
    return { baseUrl: configured, token: secrets.JOURNAL_TOKEN };
  }
  const local = readServeInfo(resolved.serveInfoFile);
  if (!local) throw new UpstreamError('conveyor', 'no Conveyor serve is running here: start it with "npm start" (or set journal.botUrl)');
  return { baseUrl: `http://127.0.0.1:${local.port}`, token: secrets.JOURNAL_TOKEN ?? local.token };
}

async function call(bot: BotAccess, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${bot.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${bot.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new UpstreamError('conveyor', `the bot is unreachable (${(err as Error).message})`);
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) throw new NotAllowedError(`the bot refused this token (HTTP ${res.status})`);
  if (!res.ok) throw new UpstreamError('conveyor', `the bot answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

async function buildTickets(resolved: ResolvedConfig, env: NodeJS.ProcessEnv): Promise<ChangeTickets | undefined> {
  const sn = resolved.config.servicenow;
  if (!sn) return undefined;
  const secrets = readSecrets(env);
  const { ServiceNowTickets } = await import('../adapters/servicenow.js');
  const auth = secrets.SERVICENOW_TOKEN ? { token: secrets.SERVICENOW_TOKEN } : { user: secrets.SERVICENOW_USER ?? '', password: secrets.SERVICENOW_PASSWORD ?? '' };
  return new ServiceNowTickets({ baseUrl: sn.baseUrl, auth, approvedStates: sn.approvedStates });
}

function untilSignal(): { signal: AbortSignal; wait: Promise<void> } {
  const ac = new AbortController();
  const wait = new Promise<void>((resolve) => {
    const stop = () => {
      ac.abort();
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return { signal: ac.signal, wait };
}

export async function journalWatchMain(args: string[], io: Out, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({ args, options: { cluster: { type: 'string' }, dir: { type: 'string' }, config: { type: 'string' } }, strict: true });
  if (!values.cluster || !values.dir) throw new InputError('usage: conveyor journal-watch --cluster <name> --dir <folder> [--config F]');
  const log = createLogger({ secrets: secretValues(readSecrets(env)) });
  const resolved = await resolveConfig(values.config, cwd, log);
  const journal = resolved.config.journal;
  if (!journal) throw new ConfigError('the configuration has no journal section');
  const bot = botAccess(resolved, env);
  const { JournalExportWatcher } = await import('./export-watcher.js');
  const { HttpVersionRegistry } = await import('./version-registry.js');
  const objects = await buildObjectStore(resolved.config, resolved.baseDir);
  const cluster = values.cluster;
  const watcher = new JournalExportWatcher({
    cluster,
    dir: join(cwd, values.dir),
    clusters: journal.clusters,
    objects,
    prefix: 'prefix' in journal.objects ? journal.objects.prefix : 'journals',
    tickets: await buildTickets(resolved, env),
    registry: new HttpVersionRegistry({ baseUrl: bot.baseUrl, token: bot.token }),
    notify: async (event) => {
      log.info({ event }, `journal ${event.kind}: ${event.file}`);
      await call(bot, 'POST', '/api/journal/events', { cluster, ...event }).catch((err) => log.warn({ err: (err as Error).message }, 'event not delivered'));
    },
    log,
    retry: { retries: 5, minTimeout: 1000, maxTimeout: 30_000 },
    // Crash tests kill the process right after a step is recorded (CONVEYOR_CRASH_AT=journal-after-<step>).
    afterStep: (step) => crashPoint(`journal-after-${step}`, env),
  });
  await watcher.start();
  io.out(`journal-watch: watching ${values.dir} for ${cluster}; uploads go to ${'bucket' in journal.objects ? `s3://${journal.objects.bucket}` : 'the local object store'}`);
  const { wait } = untilSignal();
  await wait;
  await watcher.stop();
  return 0;
}

export async function journalAgentMain(argv: string[], io: Out, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const at = argv.indexOf('--import-cmd');
  const importCommand = at === -1 ? [] : argv.slice(at + 1);
  const { values } = parseArgs({
    args: at === -1 ? argv : argv.slice(0, at),
    options: { env: { type: 'string' }, config: { type: 'string' }, 'state-file': { type: 'string' }, timeout: { type: 'string' } },
    strict: true,
  });
  if (!values.env || !ENV_NAME.test(values.env) || importCommand.length === 0) {
    throw new InputError('usage: conveyor journal-agent --env <env> [--config F] [--state-file F] [--timeout SECONDS] --import-cmd <program> [args…]');
  }
  const log = createLogger({ secrets: secretValues(readSecrets(env)) });
  const resolved = await resolveConfig(values.config, cwd, log);
  const journal = resolved.config.journal;
  if (!journal?.chain.some((c) => c.env === values.env)) throw new ConfigError(`"${values.env}" is not in journal.chain`);
  const bot = botAccess(resolved, env);
  const secrets = readSecrets(env);
  let kv: KvStore;
  if (resolved.config.consul) kv = await buildConsulKv(resolved.config.consul, secrets.CONSUL_HTTP_TOKEN);
  else {
    const url = new URL(bot.baseUrl);
    kv = await buildConsulKv({ host: url.hostname, port: Number(url.port), secure: url.protocol === 'https:' }, bot.token);
  }
  const { ImportAgent } = await import('./import-agent.js');
  const { signal, wait } = untilSignal();
  const agent = new ImportAgent({
    env: values.env,
    key: `${journal.keyPrefix}${values.env}`,
    kv,
    objects: await buildObjectStore(resolved.config, resolved.baseDir),
    resolveVersion: async (version) => {
      const v = (await call(bot, 'GET', `/api/journal/versions/${encodeURIComponent(version)}`)) as { objectKey: string; sha256: string; size: number; file: string };
      return { objectKey: v.objectKey, sha256: v.sha256, size: v.size, file: v.file };
    },
    importCommand,
    timeoutMs: (Number(values.timeout) || 3600) * 1000,
    stateFile: values['state-file'] ?? join(resolved.baseDir, '.conveyor', `journal-agent-${values.env}.json`),
    report: async (result) => {
      await call(bot, 'POST', '/api/journal/imports', result);
    },
    log,
    signal,
  });
  io.out(`journal-agent: following ${journal.keyPrefix}${values.env}; imports run: ${importCommand.join(' ')} <file>`);
  await Promise.race([agent.run(), wait]);
  return 0;
}
