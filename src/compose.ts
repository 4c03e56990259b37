/**
 * The composition root: every client is built here, once, from the validated configuration
 * and the environment's secrets, and passed down. Nothing deeper constructs an SDK client.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { GitMirror } from './adapters/git-mirror.js';
import { PlainGitHost } from './adapters/git-plain.js';
import { LogNotifier } from './adapters/log-notifier.js';
import type { Config } from './config/schema.js';
import { readSecrets, type Secrets } from './config/secrets.js';
import { ConfigError } from './core/errors.js';
import { Metrics } from './core/metrics.js';
import { OperationEngine } from './core/operation-engine.js';
import { type Clock, type Directory, emptyDirectory, type GitHost, type Notifier, type ObjectStore, systemClock } from './core/ports.js';
import type { Runtime } from './core/runtime.js';
import { EmbeddedKv } from './store/embedded-kv.js';
import { JournalStore } from './store/journal-store.js';
import { openStore } from './store/open-store.js';
import type { StateStore } from './store/state-store.js';

export interface ComposeOptions {
  config: Config;
  /** Folder relative paths in the configuration are resolved against. */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  log: Logger;
  sandbox?: boolean;
  notifier?: Notifier | null;
  directory?: Directory;
  /** Extra GitHosts by app name (tests, or adapters built elsewhere). */
  gitHosts?: Map<string, GitHost>;
  objects?: ObjectStore;
  metrics?: Metrics;
  /** An already-open store (tests clone a migrated template instead of migrating again). */
  store?: StateStore;
}

const GITHUB_REPO = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

async function buildGitHost(app: Config['apps'][number], config: Config, secrets: Secrets, baseDir: string, log: Logger, metrics: Metrics): Promise<GitHost> {
  const mirrorDir = resolve(baseDir, config.git.mirrorDir, `${app.name}.git`);
  const local = resolve(baseDir, app.repo);
  if (GITHUB_REPO.test(app.repo) && !existsSync(local)) {
    const { GitHubHost, createOctokit } = await import('./adapters/github.js');
    const [owner, repo] = app.repo.split('/') as [string, string];
    if (!secrets.GITHUB_TOKEN && !secrets.GITHUB_APP_ID) {
      throw new ConfigError(`apps.${app.name}.repo is on GitHub, but neither GITHUB_TOKEN nor GITHUB_APP_ID is set`);
    }
    const octokit = createOctokit({
      token: secrets.GITHUB_TOKEN,
      appId: secrets.GITHUB_APP_ID,
      privateKey: secrets.GITHUB_APP_PRIVATE_KEY,
      installationId: secrets.GITHUB_APP_INSTALLATION_ID,
      baseUrl: config.git.github?.baseUrl,
      log,
    });
    octokit.hook.after('request', (response) => {
      const remaining = Number(response.headers['x-ratelimit-remaining']);
      if (Number.isFinite(remaining)) metrics.githubRateLimit.set(remaining);
    });
    const gitBase = config.git.github?.gitUrl ?? 'https://github.com';
    const header = secrets.GITHUB_TOKEN ? [`http.extraHeader=Authorization: Bearer ${secrets.GITHUB_TOKEN}`] : [];
    const mirror = new GitMirror({ url: `${gitBase}/${owner}/${repo}.git`, dir: mirrorDir, config: header });
    return new GitHubHost({ octokit, owner, repo, mirror, htmlBaseUrl: config.git.github?.htmlUrl });
  }
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(app.repo) || /^[\w.-]+@[\w.-]+:/.test(app.repo) ? app.repo : isAbsolute(app.repo) ? app.repo : local;
  return new PlainGitHost(new GitMirror({ url, dir: mirrorDir }));
}

export async function compose(options: ComposeOptions): Promise<Runtime> {
  const { config, baseDir, log } = options;
  const clock = options.clock ?? systemClock;
  const secrets = readSecrets(options.env ?? process.env);
  const stateUrl = secrets.DATABASE_URL && config.state.url.startsWith('pglite:') && !options.sandbox ? secrets.DATABASE_URL : config.state.url;
  const store = options.store ?? (await openStore(stateUrl, clock, baseDir));
  // A PGlite folder has one process at a time (its folder lock): claims left by a killed
  // predecessor are stale, so the sweep can resume its operations at once.
  if (store.db.kind === 'pglite') await store.releaseAllClaims();
  try {
    const metrics = options.metrics ?? new Metrics();
    const git = new Map<string, GitHost>(options.gitHosts ?? []);
    for (const app of config.apps) {
      if (!git.has(app.name)) git.set(app.name, await buildGitHost(app, config, secrets, baseDir, log, metrics));
    }
    const slack = secrets.SLACK_BOT_TOKEN ? await buildSlackClient(config, secrets, log, metrics) : null;
    const primary = options.notifier !== undefined ? options.notifier : slack ? slack.notifier : new LogNotifier(log);
    const notifier = primary && config.notify ? await withWebhooks(primary, config, options.env ?? process.env, log) : primary;
    const directory = options.directory ?? slack?.directory ?? emptyDirectory;
    const kv = config.consul ? await buildConsulKv(config.consul, secrets.CONSUL_HTTP_TOKEN, baseDir) : new EmbeddedKv(store.db);
    const objects = options.objects ?? (await buildObjectStore(config, baseDir));
    const tickets = config.servicenow ? await buildTickets(config, secrets) : null;
    const engine = new OperationEngine({ store, config, clock, log, notifier, directory, git, metrics, tickets, workerId: `${hostname()}:${process.pid}` });
    return { config, store, journal: new JournalStore(store.db, clock), clock, log, git, notifier, directory, tickets, kv, objects, engine, sandbox: Boolean(options.sandbox), metrics, slackClient: slack?.client ?? null };
  } catch (err) {
    await store.close();
    throw err;
  }
}

export async function buildObjectStore(config: Config, baseDir: string): Promise<ObjectStore> {
  const objects = config.journal?.objects ?? { folder: '.conveyor/objects' };
  if ('folder' in objects) {
    const { LocalObjectStore } = await import('./adapters/local-object-store.js');
    return new LocalObjectStore(resolve(baseDir, objects.folder));
  }
  const { S3ObjectStore, createS3Client } = await import('./adapters/s3.js');
  const client = createS3Client({ endpoint: objects.endpoint, region: objects.region, forcePathStyle: objects.forcePathStyle, assumeRole: objects.assumeRole });
  return new S3ObjectStore(client, { bucket: objects.bucket, sse: objects.sse, kmsKeyId: objects.kmsKeyId });
}

async function buildSlackClient(config: Config, secrets: Secrets, log: Logger, metrics: Metrics) {
  const { WebClient, LogLevel } = await import('@slack/web-api');
  const { SlackNotifier, SlackDirectory } = await import('./adapters/slack-notifier.js');
  const slackApiUrl = secrets.SLACK_API_URL ?? config.slack?.apiUrl;
  const client = new WebClient(secrets.SLACK_BOT_TOKEN, {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    logLevel: LogLevel.ERROR,
    retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
  });
  void log;
  const groups = [...new Set(Object.values(config.roles).flatMap((r) => r.groups))];
  return { client, notifier: countingNotifier(new SlackNotifier(client), metrics), directory: new SlackDirectory({ client, groups }) };
}

async function buildTickets(config: Config, secrets: Secrets) {
  const { ServiceNowTickets } = await import('./adapters/servicenow.js');
  const sn = config.servicenow!;
  const auth = secrets.SERVICENOW_TOKEN
    ? { token: secrets.SERVICENOW_TOKEN }
    : { user: secrets.SERVICENOW_USER ?? '', password: secrets.SERVICENOW_PASSWORD ?? '' };
  if (!('token' in auth) && !auth.user) throw new ConfigError('servicenow is configured, but neither SERVICENOW_TOKEN nor SERVICENOW_USER/SERVICENOW_PASSWORD is set');
  return new ServiceNowTickets({ baseUrl: sn.baseUrl, auth, approvedStates: sn.approvedStates });
}

export type ConsulSettings = Pick<NonNullable<Config['consul']>, 'host' | 'port' | 'secure'> & Partial<NonNullable<Config['consul']>>;

/**
 * The Consul client: ACL token, datacenter, partition (query) and namespace (header) on every
 * request; over HTTPS with the configured CA, client certificate and server name.
 */
export async function buildConsulKv(consul: ConsulSettings, token: string | undefined, baseDir = process.cwd()) {
  const { default: Consul } = await import('consul');
  const { ConsulKv } = await import('./adapters/consul.js');
  const read = (what: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw new ConfigError(`consul.tls.${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const tls = consul.tls;
  const agent = consul.secure
    ? new HttpsAgent({
        keepAlive: true,
        ca: read('caFile', tls?.caFile),
        cert: read('certFile', tls?.certFile),
        key: read('keyFile', tls?.keyFile),
        ...(tls?.serverName ? { servername: tls.serverName } : {}),
      })
    : undefined;
  const defaults = {
    ...(token ? { token } : {}),
    ...(consul.datacenter ? { dc: consul.datacenter } : {}),
    ...(consul.partition ? { partition: consul.partition } : {}),
  };
  return new ConsulKv(
    new Consul({
      host: consul.host,
      port: consul.port,
      secure: consul.secure,
      ...(agent ? { agent } : {}),
      ...(Object.keys(defaults).length ? { defaults } : {}),
      ...(consul.namespace ? { headers: { 'x-consul-namespace': consul.namespace } } : {}),
    } as ConstructorParameters<typeof Consul>[0]),
  );
}

/** Count Slack API errors by method and Slack's error code, then pass them on. */
function countingNotifier(inner: Notifier, metrics: Metrics): Notifier {
  const count = (method: string) => (err: unknown) => {
    const code = (err as { data?: { error?: string }; cause?: { data?: { error?: string } } }).data?.error
      ?? (err as { cause?: { data?: { error?: string } } }).cause?.data?.error
      ?? (err as { code?: string }).code ?? 'error';
    metrics.slackErrors.inc({ method, error: String(code).slice(0, 40) });
    throw err;
  };
  return {
    post: (notice) => inner.post(notice).catch(count('chat.postMessage')),
    update: (ref, notice) => inner.update(ref, notice).catch(count('chat.update')),
  };
}

/** Add the configured Slack incoming webhooks and signed JSON webhooks beside the main notifier. */
async function withWebhooks(primary: Notifier, config: Config, env: NodeJS.ProcessEnv, log: Logger): Promise<Notifier> {
  const { FanoutNotifier, JsonWebhookNotifier, SlackWebhookNotifier } = await import('./adapters/webhook-notifier.js');
  const { IncomingWebhook } = await import('@slack/webhook');
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new ConfigError(`notify names the environment variable ${name}, but it is not set`);
    return value;
  };
  const slackHooks = Object.fromEntries(Object.entries(config.notify!.slackWebhooks).map(([ch, w]) => [ch, new IncomingWebhook(need(w.urlEnv))]));
  const routes = Object.fromEntries(Object.entries(config.notify!.webhooks).map(([ch, w]) => [ch, { url: w.url, secret: need(w.secretEnv) }]));
  const extra: Notifier[] = [];
  if (Object.keys(slackHooks).length) extra.push(new SlackWebhookNotifier(slackHooks));
  if (Object.keys(routes).length) extra.push(new JsonWebhookNotifier({ routes }));
  return new FanoutNotifier(primary, extra, (err) => log.warn({ err: (err as Error).message }, 'a webhook notification failed'));
}
