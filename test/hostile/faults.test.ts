/**
 * Faults, injected by the fakes, a proxy or by stopping the server: GitHub 500/502 and secondary
 * rate limits, Slack `ratelimited`, PostgreSQL restarted mid-operation, Consul down, S3 500s and
 * resets, a Kubernetes watch dropped. After every fault the invariants are checked: the
 * operation ends in a final state or resumes to one; Git refs, tags and the store agree; no
 * version is lost or duplicated; no transition is announced twice. One family line per system.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Octokit } from '@octokit/rest';
import { WebClient } from '@slack/web-api';
import Consul from 'consul';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsulKv } from '../../src/adapters/consul.js';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { KubeClusterWatch, kubeConfigFor } from '../../src/adapters/kube.js';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3.js';
import { SlackNotifier } from '../../src/adapters/slack-notifier.js';
import { UpstreamError } from '../../src/core/errors.js';
import type { GitHost, KvEntry, WorkloadStatus } from '../../src/core/ports.js';
import { watchKey } from '../../src/core/watch-key.js';
import { ConsulFake } from '../support/consul-fake.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { head, pushCommit, tagNames } from '../support/git-helpers.js';
import { startGitHubFake } from '../support/github-fake.js';
import { seedGitHubRepo } from '../support/github-repo-seed.js';
import { deploymentObject, KubeFake } from '../support/kube-fake.js';
import { startPostgres } from '../support/postgres.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import { SlackFake, silentSlackLogger } from '../support/slack-fake.js';
import { gitInvariants, oneLine, until } from './support/faults-checks.js';
import { restartable } from './support/faults-postgres.js';
import { family, printFamilies } from './support/summary.js';

const cleanups: (() => Promise<unknown>)[] = [];
const later = (fn: () => Promise<unknown>) => cleanups.push(fn);

describe('faults', () => {
  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    printFamilies();
  });

  it('GitHub 500, 502 and secondary rate limits: every promotion ends succeeded exactly once', async () => {
    const fam = family('faults (GitHub)');
    const TOKEN = 'ghs_FAULTSTOKEN0123456789';
    const gh = await startGitHubFake({ token: TOKEN });
    later(() => gh.close());
    const tmp = await mkdtemp(join(tmpdir(), 'faults-github-'));
    later(() => rm(tmp, { recursive: true, force: true }));
    const octokit: Octokit = createOctokit({
      token: TOKEN,
      baseUrl: gh.url,
      throttle: false,
      retries: 3,
      retryAfterBaseValue: 1,
    });
    type Req = Record<string, unknown> & { method: string; url: string };
    let armed: { when: (o: Req) => boolean; fire: () => void } | null = null;
    octokit.hook.before('request', (options) => {
      const o = options as unknown as Req;
      if (armed?.when(o)) {
        armed.fire();
        armed = null;
      }
    });
    const mirror = new GitMirror({ url: gh.gitUrl('acme', 'web'), dir: join(tmp, 'web.git') });
    const host: GitHost = new GitHubHost({
      octokit,
      owner: 'acme',
      repo: 'web',
      mirror,
      htmlBaseUrl: gh.url,
    });
    const t = await makeRuntime({ extra: { gitHosts: new Map([['web', host]]) } });
    later(() => t.close());
    const seeded = await seedGitHubRepo(gh, 'acme', 'web');

    const branchMove = (o: Req) => o.method === 'PATCH' && o.ref === 'heads/qa';
    const tagObject = (o: Req) => o.method === 'POST' && o.url.endsWith('/git/tags');
    const tagRef = (o: Req) => o.method === 'POST' && o.url.endsWith('/git/refs');
    const anyRequest = () => true;
    const secondary = { 'retry-after': '1' };
    // Inline: Octokit's retries absorb it. Paused: the operation waits in `applying` with a
    // one-line lastError until a sweep resumes it (403s are never retried by Octokit).
    const cases: [string, (o: Req) => boolean, number, number, Record<string, string>?][] = [
      ['500 twice on the branch move', branchMove, 2, 500],
      ['502 on the tag object', tagObject, 1, 502],
      ['403 secondary rate limit on the branch move', branchMove, 1, 403, secondary],
      ['403 secondary rate limit on the tag ref (after the tag object exists)', tagRef, 1, 403, secondary],
      ['500 outlasting the retries on the tag ref', tagRef, 4, 500],
      ['a 502 outage lasting across a sweep', anyRequest, 9, 502],
    ];
    let n = 0;
    for (const [name, when, count, status, headers] of cases) {
      const want = await gh.commitFiles('acme', 'web', 'develop', { [`fault-${++n}.txt`]: `${name}\n` }, `Change ${n}`);
      const tagsBefore = tagNames(seeded.dir, 'qa/');
      armed = { when, fire: () => gh.failNext(count, status, headers ?? {}) };
      const reply = await t.run('promote web qa');
      const id = reply.operation?.id;
      if (!id) {
        fam.record(false, `${name}: no operation (${reply.text})`);
        continue;
      }
      let problems = '';
      const first = await t.runtime.store.operation(id);
      if (first.state !== 'succeeded') {
        // Paused, not failed: the person who asked is told why, in one line.
        if (first.state !== 'applying') problems = `ended ${first.state}: ${first.error}`;
        else if (!oneLine(first.progress.lastError as string))
          problems = `lastError not one line: ${first.progress.lastError}`;
        else if (!/GitHub|rate limit/.test(reply.text))
          problems = `the reply does not say GitHub failed: ${reply.text}`;
      }
      for (
        let sweep = 0;
        sweep < 3 && !problems && (await t.runtime.store.operation(id)).state !== 'succeeded';
        sweep++
      ) {
        await t.runtime.engine.sweep();
      }
      problems ||= await gitInvariants(t, { id, repo: seeded.dir, branch: 'qa', want, tagsBefore });
      fam.record(!problems, `${name}: ${problems}`);
    }
    // A sweep with nothing to do writes nothing.
    gh.resetCounters();
    await t.runtime.engine.sweep();
    fam.record(gh.requests.filter((r) => r.method !== 'GET').length === 0, 'an idle sweep wrote to GitHub');
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  }, 120_000); // six promotions through the fake with its Git HTTP: slow on a loaded machine

  it('Slack ratelimited: every transition is announced, none twice', async () => {
    const fam = family('faults (Slack)');
    const fake = await SlackFake.start();
    later(() => fake.close());
    const client = new WebClient(fake.token, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 1 },
      logger: silentSlackLogger,
    });
    const t = await makeRuntime({ extra: { notifier: new SlackNotifier(client) } });
    later(() => t.close());

    const mentions = (id: string) =>
      fake.messagesIn().filter((m) => `${m.text}${JSON.stringify(m.blocks)}`.includes(id));
    const check = async (name: string, id: string | undefined, state: string, shown = state) => {
      if (!id) return fam.record(false, `${name}: no operation`);
      const op = await t.runtime.store.operation(id);
      const msgs = mentions(id);
      const posts = fake
        .callsTo('chat.postMessage')
        .filter((c) => c.outcome === 'ok' && JSON.stringify(c.args).includes(id));
      const problems = [
        op.state !== state && `state ${op.state}`,
        msgs.length !== 1 && `${msgs.length} messages`,
        posts.length !== 1 && `${posts.length} successful posts`,
        op.progress.published !== state && `last announced ${op.progress.published}`,
        msgs[0] &&
          !`${msgs[0].text}${JSON.stringify(msgs[0].blocks)}`.includes(shown) &&
          `the message does not show "${shown}"`,
      ].filter(Boolean);
      return fam.record(!problems.length, `${name}: ${problems.join('; ')}`);
    };

    pushCommit(t.repo('api'), 'develop');
    fake.rateLimitNext(2, 1); // retried by the WebClient after Retry-After
    await check('two 429s on the first post', (await t.run('promote api qa')).operation?.id, 'succeeded');

    pushCommit(t.repo('web'), 'develop');
    fake.rateLimitNext(4, 0); // outlasts the client's retries: that announcement is skipped, the next posts
    await check('429s outlasting the retries', (await t.run('promote web qa')).operation?.id, 'succeeded');

    fake.rateLimitNext(1, 1);
    const asked = await t.run('promote api staging');
    await check('a 429 on the approval request', asked.operation?.id, 'awaiting-approval', 'waiting for approval');
    fake.rateLimitNext(3, 0); // the "approved" edit is lost; later edits land on the same message
    await t.run(`approve ${asked.operation?.id}`, 'U_QA');
    await check('429s on the edits after approval', asked.operation?.id, 'succeeded');
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  });

  /** Rejections nobody handled while PostgreSQL was down mid-apply (see the it.fails below). */
  const escaped: unknown[] = [];

  it('PostgreSQL stopped between request and approval, and again mid-apply: completes exactly once', async () => {
    const fam = family('faults (PostgreSQL)');
    const pgServer = await startPostgres();
    later(() => pgServer.stop());
    const server = await restartable(pgServer.url);
    later(async () => (server.up ? undefined : server.startServer()));
    const t = await makeRuntime({ stateUrl: await pgServer.createDatabase('faults') });
    later(() => t.close());
    const store = t.runtime.store;
    const repo = t.repo('api');

    const staging = head(repo, 'staging');
    const want = head(repo, 'qa'); // staging is promoted from qa
    const tagsBefore = tagNames(repo, 'staging/');
    const asked = await t.run('promote api staging');
    const id = asked.operation?.id ?? '';
    fam.record(asked.operation?.state === 'awaiting-approval', `request: ${asked.text}`);

    await server.stopServer();
    const down = await t.run(`approve ${id}`, 'U_QA');
    fam.record(
      down.status === 'error' && oneLine(down.title) && /database is unreachable/.test(down.title),
      `approve while down: ${down.status} ${down.title}`,
    );
    const listed = await t.run('list');
    fam.record(listed.status === 'error' && oneLine(listed.title), `list while down: ${listed.status} ${listed.title}`);
    await server.startServer();

    const op = await store.operation(id);
    fam.record(
      op.state === 'awaiting-approval' && (await store.approvals(id)).length === 0 && head(repo, 'staging') === staging,
      `half-written while down: ${op.state}`,
    );

    // The retried approval: stop the server again right after the branch moved.
    const real = t.runtime.git.get('api')!;
    let stopped = false;
    t.runtime.git.set(
      'api',
      new Proxy(real, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          // The branch's write (with its deploy tag on plain Git, in one push).
          if (prop === 'updateBranch' || prop === 'updateBranchWithTag') {
            return async (...args: unknown[]) => {
              await (value as (...a: unknown[]) => Promise<void>).apply(target, args);
              if (!stopped) await server.stopServer();
              stopped = true;
            };
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
    );
    // Collect (instead of crashing the run) what the engine lets escape while the database is down.
    const listeners = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', (reason) => escaped.push(reason));
    let mid: Awaited<ReturnType<TestRuntime['run']>>;
    try {
      mid = await t.run(`approve ${id}`, 'U_QA');
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.removeAllListeners('unhandledRejection');
      for (const l of listeners) process.on('unhandledRejection', l);
    }
    fam.record(
      stopped && mid.status === 'error' && oneLine(mid.title),
      `approve, stopped mid-apply: ${mid.status} ${mid.title}`,
    );
    await server.startServer();

    const again = await t.run(`approve ${id}`, 'U_QA');
    fam.record(again.status !== 'ok' || again.operation?.state === 'succeeded', `approve once more: ${again.text}`);
    await t.runtime.engine.sweep();
    const problems = await gitInvariants(t, { id, repo, branch: 'staging', want, tagsBefore });
    fam.record(!problems, `after the restart: ${problems}`);
    fam.record((await store.approvals(id)).length === 1, 'the approval was stored twice');
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  });

  // Regression (src/core/operation-engine.ts, advanceNow): `return this.fail(id, err)` inside a
  // try/finally used to let fail()'s own rejection (database down) escape unhandled while the
  // finally awaited store.release — which ends a real `serve` process.
  it('lets no rejection escape the engine while PostgreSQL is down mid-apply (it would end serve)', () => {
    const fam = family('faults (PostgreSQL)');
    fam.record(escaped.length === 0, `unhandled rejection: ${String(escaped[0])}`);
    expect(escaped).toEqual([]);
  });

  it('Consul unavailable: the watch recovers to the latest value, a CAS put fails cleanly then succeeds', async () => {
    const fam = family('faults (Consul)');
    const fake = await ConsulFake.start();
    later(() => fake.close());
    const client = new Consul({ host: '127.0.0.1', port: fake.port });
    later(async () => client.destroy());
    const kv = new ConsulKv(client, { requestTimeoutMs: 5000 });
    const KEY = 'journal_version/qa';
    fake.set(KEY, 'v1');
    const abort = new AbortController();
    later(async () => abort.abort());
    const seen: (KvEntry | null)[] = [];
    const errors: unknown[] = [];
    void (async () => {
      for await (const e of watchKey(kv, KEY, {
        signal: abort.signal,
        waitMs: 60_000,
        backoff: { minMs: 10, maxMs: 50 },
        onError: (err) => errors.push(err),
      }))
        seen.push(e);
    })();
    await until('the first value', () => seen.length === 1);

    for (const mode of ['500', 'reset'] as const) {
      const before = await kv.get(KEY);
      await until('a held query', () => fake.heldRequests === 1);
      const errorsBefore = errors.length;
      fake.setDown(true, mode);
      const cas = await kv.put(KEY, `ours-${mode}`, { cas: before!.modifyIndex }).then(
        () => 'written',
        (e: unknown) => e,
      );
      fam.record(cas instanceof UpstreamError && oneLine(cas.message), `CAS while down (${mode}): ${String(cas)}`);
      fam.record(fake.value(KEY) === before!.value, `the CAS while down (${mode}) wrote`);
      fake.set(KEY, `theirs-${mode}`); // another client wrote meanwhile
      await until('failed watch attempts', () => errors.length > errorsBefore);
      fake.setDown(false);
      await until(`the latest value after ${mode}`, () => seen.at(-1)?.value === `theirs-${mode}`);
      fam.record(
        errors.every((e) => e instanceof UpstreamError),
        'the watch saw a non-upstream error',
      );
      // The stale CAS is refused, a fresh one lands.
      fam.record((await kv.put(KEY, 'stale', { cas: before!.modifyIndex })) === false, `a stale CAS after ${mode} won`);
      const fresh = await kv.get(KEY);
      fam.record(
        (await kv.put(KEY, `ours-${mode}`, { cas: fresh!.modifyIndex })) === true,
        `the CAS after ${mode} lost`,
      );
      await until(`our value after ${mode}`, () => seen.at(-1)?.value === `ours-${mode}`);
    }
    const indexes = seen.map((e) => e?.modifyIndex ?? 0);
    fam.record(
      indexes.every((x, i) => i === 0 || x > indexes[i - 1]!),
      `values seen twice or out of order: ${indexes.join(',')}`,
    );
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  });

  it('S3 500s and resets: one object, the right bytes, no duplicate', async () => {
    const fam = family('faults (S3)');
    type S3rverLike = { run(): Promise<AddressInfo>; close(): Promise<void> };
    const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverLike;
    const dir = await mkdtemp(join(tmpdir(), 'faults-s3-'));
    later(() => rm(dir, { recursive: true, force: true }));
    const s3 = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'journals' }],
    });
    const { port } = await s3.run();
    later(() => s3.close());
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port });
    later(() => proxy.close());
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    const store = new S3ObjectStore(
      createS3Client({
        endpoint: proxy.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials,
        maxAttempts: 4,
      }),
      { bucket: 'journals' },
    );
    const read = async (key: string) => {
      const chunks: Buffer[] = [];
      for await (const c of await store.get(key)) chunks.push(Buffer.from(c));
      return Buffer.concat(chunks);
    };
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    const faults: [string, () => void][] = [
      ['two 500s', () => proxy.fail500(2)],
      ['two resets', () => proxy.reset(2)],
      ['500s outlasting the retries', () => proxy.fail500(6)],
      ['resets outlasting the retries', () => proxy.reset(6)],
    ];
    let n = 0;
    for (const [name, inject] of faults) {
      const key = `journals/qa/${++n}.tar`;
      inject();
      let outcome = await store.put(key, Readable.from([body]), { metadata: { sha256: 'x' } }).then(
        () => 'stored',
        (e: unknown) => e,
      );
      const cleanFailure = outcome instanceof UpstreamError && outcome.system === 's3' && oneLine(outcome.message);
      proxy.pass();
      if (outcome !== 'stored') {
        if (!cleanFailure) {
          fam.record(false, `${name}: ${String(outcome)}`);
          continue;
        }
        outcome = await store.put(key, Readable.from([body]), { metadata: { sha256: 'x' } }).then(
          () => 'stored',
          (e: unknown) => e,
        );
      }
      const listed = await store.list(`journals/qa/${n}.`);
      const same = outcome === 'stored' && listed.length === 1 && (await read(key)).equals(body);
      fam.record(same, `${name}: ${String(outcome)}, ${listed.length} object(s)`);
    }
    const all = await store.list('journals/');
    fam.record(all.length === faults.length, `${all.length} objects for ${faults.length} puts`);
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  });

  it('Kubernetes watch dropped and API 500s: every transition observed in order, none twice', async () => {
    const fam = family('faults (Kubernetes)');
    const NS = 'shop';
    const fake = await KubeFake.start({ token: 'kube-faults-token' });
    later(() => fake.close());
    fake.applyDeployment(NS, deploymentObject('web', { image: 'web:1', replicas: 3 }));
    const seen: WorkloadStatus[] = [];
    const watch = new KubeClusterWatch({
      kubeConfigs: { c: kubeConfigFor({ server: fake.url, token: 'kube-faults-token' }) },
      restartDelayMs: 50,
      maxRestartDelayMs: 200,
    });
    later(() => watch.stop());
    await watch.start([{ cluster: 'c', namespace: NS, name: 'web' }], (s) => seen.push(s));
    await until('the first status', () => seen.length === 1);
    const images = (): string[] => seen.map((s) => s.images[0]!);
    const expected = ['web:1'];
    const faults: [string, () => Promise<void> | void][] = [
      ['watch destroyed', () => fake.dropWatches()],
      ['watch ended cleanly', () => fake.dropWatches('end')],
      [
        'API answering 500 while the watch is down',
        async () => {
          fake.failRequests(500);
          fake.dropWatches();
          await new Promise((r) => setTimeout(r, 150));
        },
      ],
    ];
    let v = 1;
    for (const [name, inject] of faults) {
      await until('a watch', () => fake.openWatches === 1);
      await inject();
      // Transitions while nobody watches, then the API comes back.
      for (let i = 0; i < 3; i++) {
        const image = `web:${++v}`;
        fake.setImage(NS, 'web', image);
        expected.push(image);
      }
      fake.failRequests(null);
      const ok = await until(`${name}: catching up`, () => seen.length >= expected.length, 15_000).then(
        () => true,
        () => false,
      );
      await new Promise((r) => setTimeout(r, 100)); // room for a duplicate to show
      fam.record(ok && images().join(' ') === expected.join(' '), `${name}: saw ${images().join(' ')}`);
    }
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  });
});
