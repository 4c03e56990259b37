/**
 * What `manifests/` ships, run as a cluster would run it. Every kustomization a user applies is
 * rendered with `kubectl kustomize`; each Deployment's container is started as a local process
 * exactly as rendered (see support/pods.ts: args, env with Secret keys filled, ConfigMaps written
 * at their mount paths under a temporary root, the image's ENV/WORKDIR/ENTRYPOINT from the
 * Dockerfile) with only host names mapped to loopback stand-ins (support/network.ts): the
 * suite's PostgreSQL, s3rver, the Consul KV fake, the ServiceNow fake and the Slack fake.
 *
 * Then the journal story runs through those processes: a file exported on the dev modelling
 * cluster is uploaded to S3 and registered with serve, imported by the dev and qa agents, and
 * promoted to dit with a signed Slack slash command; an app of the configuration is promoted to
 * qa by a Slack command against the GitHub fake (REST, and Git over smart HTTP, reached through
 * a `url.insteadOf` in the image user's git configuration); every probe in the manifests answers on the
 * port and path it names, every pod's Prometheus annotations lead to its metrics, no process
 * writes outside its writable volumes (a read-only root filesystem), and every process stops
 * cleanly on SIGTERM. A renamed variable, a missing setting or a wrong path fails this test.
 *
 * The Secret keys a Deployment references must be the ones manifests/README.md documents.
 * Not emulated: the Kubernetes API (the kubelet's KUBERNETES_SERVICE_* are not set, so serve's
 * leadership falls back to the PostgreSQL advisory lock, and no rollout is ever verified).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConsulFake } from '../support/consul-fake.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { seedGitHubRepo } from '../support/github-repo-seed.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { ServiceNowFake } from '../support/servicenow-fake.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';
import { LoopbackNet } from './support/network.js';
import { Pod, readImage } from './support/pods.js';
import { type K8sObject, type Render, renderer, renderLeaves } from './support/render.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MANIFESTS = join(ROOT, 'manifests');
const TICKET = 'CHG0001234';

interface S3rverLike {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: Record<string, unknown>) => S3rverLike;

/** Secret name → the keys manifests/README.md documents for it. */
function documentedSecrets(): Map<string, Set<string>> {
  const text = readFileSync(join(MANIFESTS, 'README.md'), 'utf8');
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([a-z0-9-]+)`[^|]*\|(.*)\|\s*$/.exec(line);
    if (!m || !/secrets?$/.test(m[1]!)) continue;
    out.set(m[1]!, new Set([...m[2]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((k) => k[1]!)));
  }
  return out;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  pods: Pod[] = [],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    for (const pod of pods) {
      if (pod.exit && !pod.running) throw new Error(`${pod.name} exited while waiting for ${what}:\n${pod.log()}`);
    }
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const logs = pods.map((p) => `--- ${p.name}\n${p.log(2500)}`).join('\n');
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\n${logs}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function gitIn(dir: string, args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((done, reject) =>
    execFile(
      'git',
      ['--git-dir', dir, ...args],
      { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } },
      (err, stdout) => (err ? reject(err) : done(stdout.trim())),
    ),
  );
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

const arg = (pod: Pod, flag: string): string | undefined => {
  const args = (pod.container.args ?? []) as string[];
  const at = args.indexOf(flag);
  return at === -1 ? undefined : args[at + 1];
};

describe(`manifests/ as shipped, run as processes (rendered with ${renderer})`, { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'conveyor-system-'));
  const net = new LoopbackNet();
  const image = readImage();
  const documented = documentedSecrets();
  const tokens: Record<string, string> = {};
  const random = (n = 24) => randomBytes(n).toString('base64url');
  const signingSecret = random();
  const githubToken = `ghp_${randomBytes(20).toString('hex')}`;
  const serviceNowAuth = { user: 'conveyor-journals', password: random() };
  let renders: Render[] = [];
  const pods: Pod[] = [];
  let postgres: TestPostgres;
  let databaseUrl = '';
  let s3: S3rverLike;
  let s3Port = 0;
  let consul: ConsulFake;
  let serviceNow: ServiceNowFake;
  let slack: SlackFake;
  let github: GitHubFake;
  /** The first app of serve's configuration, seeded in the GitHub fake. */
  let gitApp = { owner: '', repo: '', develop: '' };
  /** The Service `conveyor` (serve), as other pods and the ingress reach it. */
  let serveUrl = '';

  const podsOf = (component: string) =>
    pods.filter((p) => p.input.deployment.spec.template.metadata.labels['app.kubernetes.io/component'] === component);
  const serve = () => podsOf('serve')[0]!;
  const watcher = (cluster: string) => podsOf('journal-watch').find((p) => arg(p, '--cluster') === cluster)!;
  const agent = (env: string) => podsOf('journal-agent').find((p) => arg(p, '--env') === env)!;
  const configOf = (pod: Pod): K8sObject => {
    const file = arg(pod, '--config') ?? '/etc/conveyor/conveyor.yaml';
    return parse(readFileSync(pod.map(file), 'utf8')) as K8sObject;
  };

  /** The value a user puts under `key` in the Secret `name`, for `pod`; undefined: left out. */
  const secretFor =
    (deployment: K8sObject) =>
    (name: string, key: string): string | undefined => {
      const keys = documented.get(name);
      if (!keys)
        throw new Error(
          `${deployment.metadata.name} references Secret ${name}, which manifests/README.md does not document`,
        );
      if (!keys.has(key))
        throw new Error(
          `${deployment.metadata.name} reads key ${key} of Secret ${name}, which manifests/README.md does not document (it lists ${[...keys].join(', ')})`,
        );
      const args = (deployment.spec.template.spec.containers[0].args ?? []) as string[];
      const identity = args[args.indexOf(args[0] === 'journal-watch' ? '--cluster' : '--env') + 1]!;
      const values: Record<string, string | undefined> = {
        SLACK_BOT_TOKEN: slack.token,
        SLACK_SIGNING_SECRET: signingSecret,
        GITHUB_TOKEN: githubToken,
        GITHUB_WEBHOOK_SECRET: random(),
        DATABASE_URL: databaseUrl,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        SERVICENOW_USER: serviceNowAuth.user,
        SERVICENOW_PASSWORD: serviceNowAuth.password,
        JOURNAL_TOKENS: Object.entries(tokens)
          .map(([who, token]) => `${who}=${token}`)
          .join(','),
        JOURNAL_TOKEN: tokens[identity],
      };
      return values[key];
    };

  beforeAll(async () => {
    renders = renderLeaves(MANIFESTS);
    [postgres, slack, serviceNow, consul, github] = await Promise.all([
      startPostgres(),
      SlackFake.start(),
      ServiceNowFake.start(serviceNowAuth),
      ConsulFake.start(),
      startGitHubFake({ token: githubToken }),
    ]);
    databaseUrl = await postgres.createDatabase('conveyor');
    serviceNow.setTicket(TICKET, { state: 'Implement', approval: 'approved' });

    // Pods: one replica of every Deployment of every applied kustomization, each with its IP.
    const importer = [
      '#!/bin/sh',
      "# The environment's import script (the ConfigMap conveyor-journal-importer).",
      'set -eu',
      'sum=$(sha256sum "$1" | cut -d" " -f1)',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      'echo "$sum $(basename "$1")" >> "${TMPDIR:-/tmp}/imports.log"',
      'echo "imported $sum"',
      '',
    ].join('\n');
    const preload = net.writePreload(join(work, 'hosts.mjs'));
    for (const render of renders) {
      for (const d of render.objects.filter((o) => o.kind === 'Deployment')) {
        const args = (d.spec.template.spec.containers[0].args ?? []) as string[];
        if (args[0] === 'journal-watch') tokens[args[args.indexOf('--cluster') + 1]!] = random();
        if (args[0] === 'journal-agent') tokens[args[args.indexOf('--env') + 1]!] = random();
      }
    }
    let s3Dir = '';
    for (const render of renders) {
      for (const d of render.objects.filter((o) => o.kind === 'Deployment')) {
        const podIp = net.address();
        pods.push(
          new Pod({
            render: render.name,
            deployment: d,
            objects: render.objects,
            podIp,
            root: join(work, 'pods', render.name.replaceAll('/', '_'), d.metadata.name),
            image,
            secret: secretFor(d),
            existingConfigMaps: { 'conveyor-journal-importer': { 'import.sh': importer } },
            preload,
            extraEnv: {},
          }),
        );
      }
    }
    expect(podsOf('serve')).toHaveLength(1);

    // Names in the configurations → loopback stand-ins.
    const buckets = new Set<string>();
    for (const pod of pods) {
      const config = configOf(pod);
      if (config.consul) {
        const host = String(config.consul.host);
        const port = Number(config.consul.port ?? 8500);
        if (!net.hosts[host]) {
          net.hosts[host] = net.address();
          await net.forward(net.hosts[host]!, port, { host: '127.0.0.1', port: consul.port });
        }
      }
      if (config.servicenow) net.https[new URL(config.servicenow.baseUrl).host] = serviceNow.url;
      if (config.journal?.objects?.bucket) buckets.add(config.journal.objects.bucket);
    }
    // The ingress in front of the Service `conveyor` (serve): its port → the pod's target port.
    const service = renders
      .flatMap((r) => r.objects)
      .find((o) => o.kind === 'Service' && o.metadata.name === 'conveyor')!;
    const servicePort = service.spec.ports[0];
    const serviceIp = net.address();
    const listening = await net.forward(serviceIp, servicePort.port, {
      host: serve().input.podIp,
      port: serve().port(servicePort.targetPort),
    });
    serveUrl = `http://${serviceIp}:${listening}`;
    for (const pod of pods) {
      const botUrl = configOf(pod).journal?.botUrl as string | undefined;
      if (botUrl) net.https[new URL(botUrl).host] = serveUrl;
    }
    // GitHub: the apps of serve's configuration, seeded with their environment branches; the
    // REST API by its host name, Git over smart HTTP through the image user's git configuration.
    const serveConfig = configOf(serve());
    for (const app of (serveConfig.apps ?? []) as K8sObject[]) {
      const [owner, repo] = String(app.repo).split('/') as [string, string];
      const seeded = await seedGitHubRepo(github, owner, repo, { app: app.name });
      for (const env of serveConfig.environments as K8sObject[]) {
        if (!(env.branch in seeded.heads)) await gitIn(seeded.dir, ['branch', env.branch, seeded.heads.prod]);
      }
      if (!gitApp.owner) gitApp = { owner, repo, develop: seeded.heads.develop };
    }
    net.https[new URL(serveConfig.git?.github?.baseUrl ?? 'https://api.github.com').host] = github.url;
    const gitconfig = serve().map('/home/node/.gitconfig');
    mkdirSync(serve().map('/home/node'), { recursive: true });
    writeFileSync(
      gitconfig,
      `[url "${github.url}/"]\n\tinsteadOf = ${serveConfig.git?.github?.gitUrl ?? 'https://github.com'}/\n`,
    );
    serve().seeded.add(gitconfig);
    net.writePreload(preload);

    s3Dir = join(work, 's3');
    mkdirSync(s3Dir);
    s3 = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: s3Dir,
      configureBuckets: [...buckets].map((name) => ({ name })),
    });
    s3Port = (await s3.run()).port;
    // HTTPS endpoints cannot be served here: the SDK's and Slack's own endpoint settings point at the stand-ins.
    for (const pod of pods)
      Object.assign(pod.env, { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3Port}`, SLACK_API_URL: slack.apiUrl });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(pods.map((p) => p.stop().catch(() => null)));
    await net.close();
    await Promise.all(
      [s3?.close(), consul?.close(), serviceNow?.close(), slack?.close(), github?.close(), postgres?.stop()].map((p) =>
        p?.catch(() => {}),
      ),
    );
    if (process.env.KEEP_SYSTEM_TEST !== '1') rmSync(work, { recursive: true, force: true });
  });

  it('renders serve, three journal agents and two journal watchers, each Secret key documented', () => {
    expect(pods.map((p) => p.name).sort()).toEqual(
      [
        'overlays/journal-agent-dev/conveyor-journal-agent',
        'overlays/journal-agent-dit/conveyor-journal-agent',
        'overlays/journal-agent-qa/conveyor-journal-agent',
        'overlays/journal-watch-dev-modelling/conveyor-journal-watch',
        'overlays/journal-watch-prod-modelling/conveyor-journal-watch',
        'overlays/production/conveyor',
      ].sort(),
    );
    // Every worker presents the token serve knows it by.
    const serveTokens = serve().env.JOURNAL_TOKENS ?? '';
    for (const pod of [...podsOf('journal-watch'), ...podsOf('journal-agent')]) {
      const token = pod.env.JOURNAL_TOKEN ?? readFileSync(pod.env.JOURNAL_TOKEN_FILE ?? '/nonexistent', 'utf8');
      expect(token, pod.name).toBeTruthy();
      expect(serveTokens.split(',').map((p) => p.slice(p.indexOf('=') + 1))).toContain(token);
    }
  });

  it('every pod starts as rendered and every probe answers on the port and path it names', async () => {
    for (const pod of pods) pod.start();
    // serve first answers its startup probe; the workers come up beside it.
    for (const pod of pods) {
      for (const probe of pod.probes()) {
        await until(
          `${pod.name} ${probe.kind} ${probe.url}`,
          async () => (await get(probe.url)).status < 400,
          probe.budgetMs,
          [pod],
        );
      }
    }
    for (const pod of pods) {
      expect(
        pod
          .probes()
          .map((p) => p.kind)
          .sort(),
        `${pod.name} has all three probes`,
      ).toEqual(['livenessProbe', 'readinessProbe', 'startupProbe']);
    }
  });

  it('a journal exported on dev-modelling reaches S3, serve, and the dev and qa agents', async () => {
    const exportDir = watcher('dev-modelling').map(arg(watcher('dev-modelling'), '--dir')!);
    const content = `journal ${random()}\n`;
    writeFileSync(join(exportDir, 'journal.dat'), content);
    writeFileSync(
      join(exportDir, 'journal.dat.meta.json'),
      JSON.stringify({ ticket: TICKET, mandators: ['tech-head'] }),
    );

    const version = await until(
      'the version registered with serve',
      async () => {
        const answer = await get(`${serveUrl}/api/journal/versions?cluster=dev-modelling`);
        return (JSON.parse(answer.text) as { versions: { version: string }[] }).versions[0]?.version;
      },
      120_000,
      pods,
    );
    expect(version).toMatch(/-dev-modelling\.\d+$/);
    // The file leaves the export folder only once it is uploaded and registered.
    await until(
      'the export moved to uploaded/',
      async () => existsSync(join(exportDir, 'uploaded', 'journal.dat')) && !existsSync(join(exportDir, 'journal.dat')),
      60_000,
      pods,
    );

    const sha = (await import('node:crypto')).createHash('sha256').update(content).digest('hex');
    for (const env of ['dev', 'qa']) {
      const log = join(agent(env).map('/tmp'), 'imports.log');
      await until(
        `the ${env} agent imports ${version}`,
        async () => existsSync(log) && readFileSync(log, 'utf8').includes(sha),
        120_000,
        pods,
      );
      const pointer = await get(`http://127.0.0.1:${consul.port}/v1/kv/journal_version/${env}?raw`);
      expect(pointer.text, `journal_version/${env}`).toBe(version);
    }
    expect(existsSync(join(agent('dit').map('/tmp'), 'imports.log'))).toBe(false);
  });

  it('journal promote dit, typed in Slack, moves dit and its agent imports', async () => {
    const driver = new SlackDriver({ url: `${serveUrl}/slack/events`, signingSecret });
    const responseUrl = slack.responseUrl();
    const ack = await driver.slashCommand({
      text: 'journal promote dit',
      user: 'U0SYSTEST1',
      channel: 'C0JOURNALS',
      responseUrl,
    });
    expect(ack.status).toBe(200);
    await until(
      'the reply to the slash command',
      async () => slack.responses.length > 0 || slack.messagesIn().length > 0,
      60_000,
      pods,
    );
    const qa = await get(`http://127.0.0.1:${consul.port}/v1/kv/journal_version/qa?raw`);
    const log = join(agent('dit').map('/tmp'), 'imports.log');
    await until('the dit agent imports', async () => existsSync(log), 120_000, pods);
    const dit = await get(`http://127.0.0.1:${consul.port}/v1/kv/journal_version/dit?raw`);
    expect(dit.text).toBe(qa.text);
  });

  it("a rotated worker token: serve rolls out with the new JOURNAL_TOKENS, the kubelet rewrites the agent's token file, and the next journal flows without restarting the agent", async () => {
    const devAgent = agent('dev');
    const tokenFile = devAgent.env.JOURNAL_TOKEN_FILE;
    expect(tokenFile, 'the agent reads its token from the mounted Secret').toBeDefined();
    tokens.dev = random();
    // The Secret changed: serve's rollout starts it with the new value.
    expect(await serve().stop()).toEqual({ code: 0, signal: null });
    serve().env.JOURNAL_TOKENS = Object.entries(tokens)
      .map(([who, token]) => `${who}=${token}`)
      .join(',');
    serve().start();
    const readiness = serve()
      .probes()
      .find((p) => p.kind === 'readinessProbe')!;
    await until('serve ready again', async () => (await get(readiness.url)).status === 200, readiness.budgetMs * 10, [
      serve(),
    ]);
    // The kubelet updates the mounted Secret in place.
    writeFileSync(tokenFile!, tokens.dev);

    const exportDir = watcher('dev-modelling').map(arg(watcher('dev-modelling'), '--dir')!);
    const content = `journal after the rotation ${random()}\n`;
    writeFileSync(join(exportDir, 'journal2.dat'), content);
    writeFileSync(
      join(exportDir, 'journal2.dat.meta.json'),
      JSON.stringify({ ticket: TICKET, mandators: ['tech-head'] }),
    );
    const sha = (await import('node:crypto')).createHash('sha256').update(content).digest('hex');
    // qa follows dev only once dev's agent has reported its import: that report carries the new token.
    for (const env of ['dev', 'qa']) {
      const log = join(agent(env).map('/tmp'), 'imports.log');
      await until(
        `the ${env} agent imports the new journal`,
        async () => existsSync(log) && readFileSync(log, 'utf8').includes(sha),
        180_000,
        pods,
      );
    }
    expect(devAgent.running, 'the dev agent was never restarted').toBe(true);
  });

  it('promote <app> qa, typed in Slack, moves qa on GitHub to the head of develop', async () => {
    const app = (configOf(serve()).apps as K8sObject[])[0]!.name as string;
    const qaBranch = (configOf(serve()).environments as K8sObject[]).find((e) => e.name === 'qa')!.branch as string;
    expect(await github.refSha(gitApp.owner, gitApp.repo, qaBranch)).not.toBe(gitApp.develop);
    const driver = new SlackDriver({ url: `${serveUrl}/slack/events`, signingSecret });
    const responseUrl = slack.responseUrl();
    // A failed request says what serve logged (a serve that went away must be explained).
    const ack = await driver
      .slashCommand({ text: `promote ${app} qa`, user: 'U0SYSTEST2', channel: 'C0DEPLOYQA', responseUrl })
      .catch((err: Error) => {
        throw new Error(`${err.message} (${String(err.cause ?? '')})\n--- serve\n${serve().log(4000)}`);
      });
    expect(ack.status).toBe(200);
    await until(
      `qa of ${app} on GitHub at develop's head`,
      async () => (await github.refSha(gitApp.owner, gitApp.repo, qaBranch)) === gitApp.develop,
      120_000,
      pods,
    );
    // Then the deploy tag, and the answer in Slack.
    const dir = github.repoOrThrow(gitApp.owner, gitApp.repo).dir;
    await until(
      'a qa deploy tag on the new head',
      async () => /^qa\//m.test(await gitIn(dir, ['tag', '--points-at', gitApp.develop])),
      60_000,
      pods,
    );
    await until(
      'the reply in Slack',
      async () =>
        slack.responses.some((r) => JSON.stringify(r.body).includes(app)) ||
        slack.messagesIn().some((m) => JSON.stringify(m).includes(app)),
      60_000,
      pods,
    );
  });

  it("each pod's Prometheus annotations lead to its metrics", async () => {
    for (const pod of pods) {
      const annotations = pod.input.deployment.spec.template.metadata.annotations ?? {};
      expect(annotations['prometheus.io/scrape'], pod.name).toBe('true');
      const metrics = await get(
        `http://${pod.input.podIp}:${annotations['prometheus.io/port']}${annotations['prometheus.io/path']}`,
      );
      expect(metrics.status, pod.name).toBe(200);
      expect(metrics.type).toMatch(/^text\/plain/);
      expect(metrics.text, `${pod.name}: Node's default metrics, unprefixed`).toMatch(
        /^process_cpu_user_seconds_total/m,
      );
    }
    for (const pod of [...podsOf('journal-watch'), ...podsOf('journal-agent')]) {
      const metrics = await get(
        `http://${pod.input.podIp}:${pod.input.deployment.spec.template.metadata.annotations['prometheus.io/port']}/metrics`,
      );
      expect(metrics.text, pod.name).toMatch(/^conveyor_journal_worker_ready\{[^}]*\} 1$/m);
    }
  });

  it('every process stops cleanly on SIGTERM and wrote nothing outside its writable volumes', async () => {
    const results = await Promise.all(pods.map(async (pod) => ({ pod, exit: await pod.stop() })));
    for (const { pod, exit } of results) {
      expect(exit, `${pod.name} exit\n${pod.log()}`).toEqual({ code: 0, signal: null });
      // bin/conveyor.js ends a finished process that something still holds, and says so: a leak to fix.
      const held = pod
        .log(20_000)
        .split('\n')
        .find((l) => l.includes('still held the process'));
      if (held) console.warn(`${pod.name}: ${held}`);
      expect(pod.writesOutsideVolumes(), `${pod.name} writes on its read-only root filesystem`).toEqual([]);
    }
  });
});
