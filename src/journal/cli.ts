/**
 * `conveyor journal-watch` (modelling clusters) and `conveyor journal-agent` (execution
 * environments). Both reach the bot at journal.botUrl with JOURNAL_TOKEN — or, on the same
 * machine (the sandbox), at the running serve with its local token, as `conveyor run` does —
 * and, given `--health-port` (or HEALTH_PORT), serve /healthz, /readyz and /metrics there.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ResolvedConfig, resolveConfig } from '../cli-config.js';
import { JOURNAL_AGENT_USAGE, JOURNAL_WATCH_USAGE } from '../cli-usage.js';
import { buildConsulKv, buildObjectStore, buildTickets as composeTickets } from '../compose/index.js';
import { readSecrets, secretValues } from '../config/secrets.js';
import { ConfigError, InputError } from '../core/errors.js';
import { crashPoint } from '../core/fault-points.js';
import { createLogger } from '../core/log.js';
import { ENV_NAME } from '../core/patterns.js';
import type { ChangeTickets, KvStore } from '../core/ports.js';
import { BotLink } from './bot-link.js';
import { watchNotifier } from './watch-notices.js';
import { WorkerHealth, type WorkerKind } from './worker-health.js';

type Out = { out: (s: string) => void; err: (s: string) => void };

async function buildTickets(resolved: ResolvedConfig, env: NodeJS.ProcessEnv): Promise<ChangeTickets | undefined> {
  const sn = resolved.config.servicenow;
  return sn ? composeTickets(sn, readSecrets(env), { credentialsRequired: false }) : undefined;
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

/** `--health-port`, else HEALTH_PORT; undefined: no health server. */
function healthPort(flag: string | undefined, env: NodeJS.ProcessEnv): number | undefined {
  const raw = flag ?? env.HEALTH_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError(`--health-port: "${raw}" is not a port number`);
  return port;
}

async function startHealth(
  kind: WorkerKind,
  labels: Record<string, string>,
  port: number | undefined,
  env: NodeJS.ProcessEnv,
  io: Out,
): Promise<WorkerHealth> {
  const health = new WorkerHealth(kind, labels);
  if (port !== undefined) {
    const host = env.HOST ?? '127.0.0.1';
    const bound = await health.listen(port, host);
    io.out(`${kind}: /healthz, /readyz and /metrics on http://${host}:${bound}`);
  }
  return health;
}

/** A KvStore that is built again with the bot's new token when the token changed (sandbox). */
function refreshingKv(build: (token: string) => Promise<KvStore>, bot: BotLink): KvStore {
  let token = bot.currentToken();
  let current = build(token);
  const withRetry = async <T>(op: (kv: KvStore) => Promise<T>): Promise<T> => {
    try {
      return await op(await current);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      bot.reload();
      if (bot.currentToken() === token) throw err;
      token = bot.currentToken();
      current = build(token);
      return op(await current);
    }
  };
  return {
    get: (key) => withRetry((kv) => kv.get(key)),
    put: (key, value, options) => withRetry((kv) => kv.put(key, value, options)),
    watch: (key, index, options) => withRetry((kv) => kv.watch(key, index, options)),
  };
}

export async function journalWatchMain(
  args: string[],
  io: Out,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      cluster: { type: 'string' },
      dir: { type: 'string' },
      config: { type: 'string' },
      'health-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(JOURNAL_WATCH_USAGE);
    return 0;
  }
  if (!values.cluster || !values.dir) throw new InputError(JOURNAL_WATCH_USAGE);
  const log = createLogger({ secrets: secretValues(readSecrets(env)) }).child({
    component: 'journal-watch',
    cluster: values.cluster,
  });
  const resolved = await resolveConfig(values.config, cwd, log);
  const journal = resolved.config.journal;
  if (!journal) throw new ConfigError('the configuration has no journal section');
  const health = await startHealth(
    'journal-watch',
    { cluster: values.cluster },
    healthPort(values['health-port'], env),
    env,
    io,
  );
  try {
    const bot = BotLink.fromConfig(resolved, env);
    bot.onResult = (result) => health.botResult(result);
    const { JournalExportWatcher } = await import('./export-watcher.js');
    const { HttpVersionRegistry } = await import('./version-registry.js');
    const objects = await buildObjectStore(resolved.config, resolved.baseDir);
    const cluster = values.cluster;
    const dir = resolve(cwd, values.dir);
    // Serve first; this cluster's Slack webhook when serve cannot be reached.
    const notices = watchNotifier({
      cluster,
      toBot: (body) => bot.call('POST', '/api/journal/events', body),
      webhookUrl: readSecrets(env).JOURNAL_SLACK_WEBHOOK,
      log,
    });
    const watcher = new JournalExportWatcher({
      cluster,
      dir,
      clusters: journal.clusters,
      objects,
      prefix: 'prefix' in journal.objects ? journal.objects.prefix : 'journals',
      tickets: await buildTickets(resolved, env),
      registry: new HttpVersionRegistry({ baseUrl: bot.baseUrl, token: bot.currentToken(), fetch: bot.fetch }),
      notify: async (event) => {
        health.events.inc({ kind: event.kind });
        log.info({ event }, `journal ${event.kind}: ${event.file}`);
        await notices(event);
      },
      log,
      retry: { retries: 5, minTimeout: 1000, maxTimeout: 30_000 },
      // Crash tests kill the process right after a step is recorded (CONVEYOR_CRASH_AT=journal-after-<step>).
      afterStep: (step) => crashPoint(`journal-after-${step}`, env),
    });
    await watcher.start();
    health.markStarted();
    log.info({ dir, bot: bot.baseUrl }, 'journal-watch started');
    io.out(
      `journal-watch: watching ${dir} for ${cluster}; uploads go to ${'bucket' in journal.objects ? `s3://${journal.objects.bucket}` : 'the local object store'}`,
    );
    const { wait } = untilSignal();
    await wait;
    await watcher.stop();
    return 0;
  } finally {
    await health.close();
  }
}

export async function journalAgentMain(
  argv: string[],
  io: Out,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const at = argv.indexOf('--import-cmd');
  const importCommand = at === -1 ? [] : argv.slice(at + 1);
  const { values } = parseArgs({
    args: at === -1 ? argv : argv.slice(0, at),
    options: {
      env: { type: 'string' },
      config: { type: 'string' },
      'state-file': { type: 'string' },
      timeout: { type: 'string' },
      'health-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(JOURNAL_AGENT_USAGE);
    return 0;
  }
  if (!values.env || !ENV_NAME.test(values.env) || importCommand.length === 0)
    throw new InputError(JOURNAL_AGENT_USAGE);
  const log = createLogger({ secrets: secretValues(readSecrets(env)) }).child({
    component: 'journal-agent',
    env: values.env,
  });
  const resolved = await resolveConfig(values.config, cwd, log);
  const journal = resolved.config.journal;
  if (!journal?.chain.some((c) => c.env === values.env))
    throw new ConfigError(`"${values.env}" is not in journal.chain`);
  const health = await startHealth(
    'journal-agent',
    { env: values.env },
    healthPort(values['health-port'], env),
    env,
    io,
  );
  try {
    const bot = BotLink.fromConfig(resolved, env);
    bot.onResult = (result) => health.botResult(result);
    const secrets = readSecrets(env);
    let kv: KvStore;
    if (resolved.config.consul)
      kv = await buildConsulKv(resolved.config.consul, secrets.CONSUL_HTTP_TOKEN, resolved.baseDir);
    else {
      // The sandbox: serve's embedded store in Consul's shape, with the bot's token.
      const url = new URL(bot.baseUrl);
      kv = refreshingKv(
        (token) =>
          buildConsulKv({ host: url.hostname, port: Number(url.port), secure: url.protocol === 'https:' }, token),
        bot,
      );
    }
    let following = false;
    const watchedKv: KvStore = {
      get: (key) => kv.get(key),
      put: (key, value, options) => kv.put(key, value, options),
      watch: async (key, index, options) => {
        const answer = await kv.watch(key, index, options);
        if (!following) {
          following = true;
          health.markStarted();
        }
        return answer;
      },
    };
    const { ImportAgent } = await import('./import-agent.js');
    const { signal, wait } = untilSignal();
    const agent = new ImportAgent({
      env: values.env,
      key: `${journal.keyPrefix}${values.env}`,
      kv: watchedKv,
      objects: await buildObjectStore(resolved.config, resolved.baseDir),
      resolveVersion: async (version) => {
        const v = (await bot.call('GET', `/api/journal/versions/${encodeURIComponent(version)}`)) as {
          objectKey: string;
          sha256: string;
          size: number;
          file: string;
        };
        return { objectKey: v.objectKey, sha256: v.sha256, size: v.size, file: v.file };
      },
      importCommand,
      timeoutMs: (Number(values.timeout) || 3600) * 1000,
      stateFile: values['state-file']
        ? resolve(cwd, values['state-file'])
        : join(resolved.runDir, `journal-agent-${values.env}.json`),
      report: async (result) => {
        health.events.inc({ kind: result.ok ? 'succeeded' : 'failed' });
        log.info(
          { version: result.version, ok: result.ok, exitCode: result.exitCode, durationMs: result.durationMs },
          `journal import ${result.ok ? 'succeeded' : 'failed'}`,
        );
        await bot.call('POST', '/api/journal/imports', result);
      },
      log,
      signal,
    });
    log.info({ key: `${journal.keyPrefix}${values.env}`, bot: bot.baseUrl }, 'journal-agent started');
    io.out(
      `journal-agent: following ${journal.keyPrefix}${values.env}; imports run: ${importCommand.join(' ')} <file>`,
    );
    await Promise.race([agent.run(), wait]);
    return 0;
  } finally {
    await health.close();
  }
}
