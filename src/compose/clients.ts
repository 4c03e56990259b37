/** The clients the composition root builds from the configuration and the secrets. */
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { ConfigError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import type { ChangeTickets, Notifier, ObjectStore } from '../core/ports.js';

export async function buildObjectStore(config: Config, baseDir: string): Promise<ObjectStore> {
  const objects = config.journal?.objects ?? { folder: '.conveyor/objects' };
  if ('folder' in objects) {
    const { LocalObjectStore } = await import('../adapters/local-object-store.js');
    return new LocalObjectStore(resolve(baseDir, objects.folder));
  }
  const { S3ObjectStore, createS3Client } = await import('../adapters/s3.js');
  const client = createS3Client({
    endpoint: objects.endpoint,
    region: objects.region,
    forcePathStyle: objects.forcePathStyle,
    assumeRole: objects.assumeRole,
  });
  return new S3ObjectStore(client, { bucket: objects.bucket, sse: objects.sse, kmsKeyId: objects.kmsKeyId });
}

export async function buildSlackClient(config: Config, secrets: Secrets, log: Logger, metrics: Metrics) {
  const { WebClient, LogLevel } = await import('@slack/web-api');
  const { SlackNotifier, SlackDirectory } = await import('../adapters/slack-notifier.js');
  const slackApiUrl = secrets.SLACK_API_URL ?? config.slack?.apiUrl;
  const client = new WebClient(secrets.SLACK_BOT_TOKEN, {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    logLevel: LogLevel.ERROR,
    retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
  });
  void log;
  const groups = [...new Set(Object.values(config.roles).flatMap((r) => r.groups))];
  return {
    client,
    notifier: countingNotifier(new SlackNotifier(client), metrics),
    directory: new SlackDirectory({ client, groups }),
  };
}

/**
 * The ServiceNow client. serve refuses to start without credentials; the journal workers
 * (`credentialsRequired: false`) have always started without them, and still do.
 */
export async function buildTickets(
  sn: NonNullable<Config['servicenow']>,
  secrets: Secrets,
  options: { credentialsRequired?: boolean } = {},
): Promise<ChangeTickets> {
  const { ServiceNowTickets } = await import('../adapters/servicenow.js');
  const auth = secrets.SERVICENOW_TOKEN
    ? { token: secrets.SERVICENOW_TOKEN }
    : { user: secrets.SERVICENOW_USER ?? '', password: secrets.SERVICENOW_PASSWORD ?? '' };
  if ((options.credentialsRequired ?? true) && !('token' in auth) && !auth.user) {
    throw new ConfigError(
      'servicenow is configured, but neither SERVICENOW_TOKEN nor SERVICENOW_USER/SERVICENOW_PASSWORD is set',
    );
  }
  return new ServiceNowTickets({ baseUrl: sn.baseUrl, auth, approvedStates: sn.approvedStates });
}

export type ConsulSettings = Pick<NonNullable<Config['consul']>, 'host' | 'port' | 'secure'> &
  Partial<NonNullable<Config['consul']>>;

/**
 * The Consul client: ACL token, datacenter, partition (query) and namespace (header) on every
 * request; over HTTPS with the configured CA, client certificate and server name.
 */
export async function buildConsulKv(consul: ConsulSettings, token: string | undefined, baseDir = process.cwd()) {
  const { default: Consul } = await import('consul');
  const { ConsulKv } = await import('../adapters/consul.js');
  const read = (what: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw new ConfigError(
        `consul.tls.${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
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
export function countingNotifier(inner: Notifier, metrics: Metrics): Notifier {
  const count = (method: string) => (err: unknown) => {
    const code =
      (err as { data?: { error?: string }; cause?: { data?: { error?: string } } }).data?.error ??
      (err as { cause?: { data?: { error?: string } } }).cause?.data?.error ??
      (err as { code?: string }).code ??
      'error';
    metrics.slackErrors.inc({ method, error: String(code).slice(0, 40) });
    throw err;
  };
  return {
    post: (notice) => inner.post(notice).catch(count('chat.postMessage')),
    update: (ref, notice) => inner.update(ref, notice).catch(count('chat.update')),
  };
}

/** Add the configured Slack incoming webhooks, signed JSON webhooks and other sinks (email, Teams) beside the main notifier. */
export async function withWebhooks(
  primary: Notifier,
  config: Config,
  env: NodeJS.ProcessEnv,
  log: Logger,
  sinks: Notifier[] = [],
): Promise<Notifier> {
  const { FanoutNotifier, JsonWebhookNotifier, SlackWebhookNotifier } = await import('../adapters/webhook-notifier.js');
  const { IncomingWebhook } = await import('@slack/webhook');
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new ConfigError(`notify names the environment variable ${name}, but it is not set`);
    return value;
  };
  const slackHooks = Object.fromEntries(
    Object.entries(config.notify?.slackWebhooks ?? {}).map(([ch, w]) => [ch, new IncomingWebhook(need(w.urlEnv))]),
  );
  const routes = Object.fromEntries(
    Object.entries(config.notify?.webhooks ?? {}).map(([ch, w]) => [ch, { url: w.url, secret: need(w.secretEnv) }]),
  );
  const extra: Notifier[] = [];
  if (Object.keys(slackHooks).length) extra.push(new SlackWebhookNotifier(slackHooks));
  if (Object.keys(routes).length) extra.push(new JsonWebhookNotifier({ routes }));
  extra.push(...sinks);
  return new FanoutNotifier(primary, extra, (err) =>
    log.warn({ err: (err as Error).message }, 'a notification beyond Slack failed'),
  );
}
