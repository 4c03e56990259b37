/**
 * Registry discovery against the real distribution server: images pushed with skopeo, a registry
 * webhook (and the poller) make the discovery write the new image into the first environment's
 * overlay — once per digest, across a restart — then promote carries it on through the engine.
 * The GitOps repository is checked with plain git (and `kubectl kustomize`) after each step, through
 * staging's gate, the pull-request environment prod and a rollback of prod.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImageDiscovery } from '../../src/compose/image-discovery.js';
import type { ImageDiscovery } from '../../src/controller/image-discovery.js';
import { HttpServer } from '../../src/server/http-server.js';
import { git, pushCommit } from '../support/git-helpers.js';
import { createGitopsRepo, overlayText, renderOverlay, showFile } from '../support/gitops-repo.js';
import { type WrittenImage, writeOciLayout } from '../support/oci-layout.js';
import {
  type RunningRegistry,
  registryMissing,
  startRegistry,
  TOKEN_PASSWORD,
  TOKEN_USER,
} from '../support/registry.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const missing = registryMissing();
if (missing) console.log(`skipping the registry discovery tests: ${missing}`);

const ENVS = ['development', 'qa', 'staging', 'prod'];
const TOKEN = 'registry-hook-token-for-tests';

/** Wait (bounded: 100 × 100 ms) until `check` holds; returns whether it did. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe.skipIf(missing)('registry discovery → first environment → promote', () => {
  let registry: RunningRegistry;
  let t: TestRuntime;
  let dir: string;
  let layout: string;
  let repo: string;
  let image: string;
  let images: WrittenImage[];
  let http: HttpServer;
  let hookUrl: string;
  let discovery: ImageDiscovery;

  const digest = (tag: string) => images.find((i) => i.tag === tag)!.digest;
  const devOverlay = () => showFile(repo, 'overlays/development/kustomization.yaml');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-discovery-'));
    layout = join(dir, 'layout');
    images = writeOciLayout(
      layout,
      ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '2.0.0-rc.1'].map((tag, i) => ({
        tag,
        created: `2026-11-1${i}T09:00:00Z`,
        labels: { 'org.opencontainers.image.revision': `${i}`.repeat(40) },
      })),
    );
    registry = await startRegistry();
    await registry.push(layout, '1.0.0', 'team/worker');
    image = `${registry.host}/team/worker`;
    repo = createGitopsRepo(dir, { image, envs: ENVS, tag: '1.0.0', digest: digest('1.0.0') });
    t = await makeRuntime({
      edit: (c) => {
        c.apps.push({
          name: 'worker',
          repo: './repos/api.git',
          strategy: 'image',
          image: { repository: image, registryUrl: registry.url, policy: { semver: '>=1.0.0' }, pollInterval: '1s' },
          gitops: { repo, paths: Object.fromEntries(ENVS.map((e) => [e, `overlays/${e}`])) },
        });
      },
    });
    http = new HttpServer(pino({ level: 'silent' }));
    discovery = buildImageDiscovery({
      runtime: t.runtime,
      http,
      log: pino({ level: 'silent' }),
      webhookToken: TOKEN,
    })!;
    hookUrl = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}/hooks/registry`;
  }, 120_000);

  afterAll(async () => {
    await discovery?.stop();
    await http?.close();
    await t?.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const hook = (body: unknown, auth = `Bearer ${TOKEN}`) =>
    fetch(hookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify(body),
    });

  it('a registry webhook without the token is refused and looks at nothing', async () => {
    const res = await hook({ repository: image, tag: '1.1.0' }, 'Bearer wrong');
    expect(res.status).toBe(401);
    expect((await hook({ hello: 'world' })).status).toBe(400);
  });

  it('a push of 1.1.0 announced by the generic webhook lands in the development overlay, and only there', async () => {
    await registry.push(layout, '1.1.0', 'team/worker');
    await registry.push(layout, '2.0.0-rc.1', 'team/worker'); // a prerelease the policy does not take
    const res = await hook({ repository: image, tag: '1.1.0', digest: digest('1.1.0') });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ looking: ['worker'] });
    expect(await eventually(() => devOverlay().includes(digest('1.1.0')))).toBe(true);
    expect(devOverlay()).toBe(overlayText('development', image, '1.1.0', digest('1.1.0')));
    expect(git(repo, 'diff', '--name-only', 'main~1', 'main')).toBe('overlays/development/kustomization.yaml');
    expect(git(repo, 'log', '-1', '--format=%B', 'main')).toContain(
      `Conveyor-Discovery: image-discovery:worker:${digest('1.1.0')}`,
    );
    // The version branch and its deploy tag follow the file write.
    expect(await eventually(() => git(repo, 'tag', '--list', 'worker/development/*') !== '')).toBe(true);
    const tags = git(repo, 'tag', '--list', '--sort=creatordate', 'worker/development/*').split('\n');
    expect(git(repo, 'tag', '-l', '--format=%(contents)', tags.at(-1)!)).toContain('Kind: discovered');
  });

  it('deploys a digest once: after a restart, a rollback by hand of development is not undone', async () => {
    const text = overlayText('development', image, '1.0.0', digest('1.0.0'));
    pushCommit(repo, 'main', {
      path: 'overlays/development/kustomization.yaml',
      content: text,
      message: 'back to 1.0.0 by hand',
    });
    const restarted = buildImageDiscovery({ runtime: t.runtime, log: pino({ level: 'silent' }) })!;
    const result = await restarted.look('worker');
    expect(result).toEqual({ outcome: 'seen', tag: '1.1.0', digest: digest('1.1.0') });
    expect(devOverlay()).toBe(text);
    await restarted.stop();
  });

  it('a Harbor push webhook brings 1.2.0 the same way', async () => {
    await registry.push(layout, '1.2.0', 'team/worker');
    const harbor = {
      type: 'PUSH_ARTIFACT',
      occur_at: 1764100000,
      operator: 'ci',
      event_data: {
        resources: [{ digest: digest('1.2.0'), tag: '1.2.0', resource_url: `${image}:1.2.0` }],
        repository: {
          date_created: 1764000000,
          name: 'worker',
          namespace: 'team',
          repo_full_name: 'team/worker',
          repo_type: 'private',
        },
      },
    };
    const res = await hook(harbor, TOKEN); // Harbor sends its configured auth header as is
    expect(res.status).toBe(202);
    expect(await eventually(() => devOverlay().includes(digest('1.2.0')))).toBe(true);
    expect(devOverlay()).toBe(overlayText('development', image, '1.2.0', digest('1.2.0')));
  });

  it('the poller finds 1.3.0 by itself, with no webhook', async () => {
    await registry.push(layout, '1.3.0', 'team/worker');
    discovery.start();
    expect(await eventually(() => devOverlay().includes(digest('1.3.0')))).toBe(true);
    expect(devOverlay()).toBe(overlayText('development', image, '1.3.0', digest('1.3.0')));
  });

  it('promote worker qa carries the discovered image on, touching only the qa overlay', async () => {
    const reply = await t.run('promote worker qa', 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    expect(git(repo, 'diff', '--name-only', 'main~1', 'main')).toBe('overlays/qa/kustomization.yaml');
    expect(showFile(repo, 'overlays/qa/kustomization.yaml')).toBe(overlayText('qa', image, '1.3.0', digest('1.3.0')));
  });

  it('on through staging (qa-lead) and the pull-request environment prod (two roles), then a rollback of prod: one overlay per step', async () => {
    // After each write: exactly one file changed, it is that overlay as it would be written by
    // hand, and kubectl renders the image the environment now runs.
    const landed = (env: string, tag: string) => {
      expect(git(repo, 'diff', '--name-only', 'main~1', 'main')).toBe(`overlays/${env}/kustomization.yaml`);
      expect(showFile(repo, `overlays/${env}/kustomization.yaml`)).toBe(overlayText(env, image, tag, digest(tag)));
      const rendered = renderOverlay(repo, `overlays/${env}`);
      if (rendered !== null) expect(rendered).toContain(`image: ${image}:${tag}@${digest(tag)}`);
    };
    const staging = await t.run('promote worker staging', 'U_DEMO');
    expect(staging.operation?.state, staging.text).toBe('awaiting-approval');
    expect((await t.run(`approve ${staging.operation!.id}`, 'U_QA')).operation?.state).toBe('succeeded');
    landed('staging', '1.3.0');

    const before = git(repo, 'rev-parse', 'main');
    const prod = await t.run('promote worker prod', 'U_DEMO');
    expect(prod.operation?.state, prod.text).toBe('awaiting-approval');
    expect((await t.run(`approve ${prod.operation!.id}`, 'U_LEAD')).operation?.state).toBe('awaiting-approval');
    expect(git(repo, 'rev-parse', 'main')).toBe(before); // nothing written while the gate waits
    expect((await t.run(`approve ${prod.operation!.id}`, 'U_PO')).operation?.state).toBe('succeeded');
    landed('prod', '1.3.0');

    // Prod ran 1.0.0 before: the rollback restores it, through prod's gate like any write there.
    const back = await t.run('rollback worker prod', 'U_DEMO');
    const id = back.operation!.id;
    expect(back.operation?.state, back.text).toBe('awaiting-approval');
    expect(git(repo, 'rev-parse', 'main')).not.toBe(before); // still prod's 1.3.0 commit, nothing new
    let done = await t.run(`approve ${id}`, 'U_LEAD');
    if (done.operation?.state === 'awaiting-approval') done = await t.run(`approve ${id}`, 'U_PO');
    expect(done.operation?.state, done.text).toBe('succeeded');
    landed('prod', '1.0.0');
    const tags = git(repo, 'tag', '--list', '--sort=creatordate', 'worker/prod/*').split('\n');
    expect(git(repo, 'tag', '-l', '--format=%(contents)', tags.at(-1)!)).toContain('Kind: rollback');
  });
});

describe.skipIf(missing)('registry discovery behind token authentication', () => {
  let registry: RunningRegistry;
  let t: TestRuntime;
  let dir: string;
  let repo: string;
  let images: WrittenImage[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-discovery-token-'));
    const layout = join(dir, 'layout');
    images = writeOciLayout(layout, [{ tag: '1.0.0' }, { tag: '1.1.0' }]);
    registry = await startRegistry({ tokenAuth: true });
    await registry.push(layout, '1.0.0', 'team/worker');
    await registry.push(layout, '1.1.0', 'team/worker');
    const image = `${registry.host}/team/worker`;
    repo = createGitopsRepo(dir, { image, envs: ENVS, tag: '1.0.0', digest: images[0]!.digest });
    t = await makeRuntime({
      edit: (c) => {
        c.apps.push({
          name: 'worker',
          repo: './repos/api.git',
          strategy: 'image',
          image: {
            repository: image,
            registryUrl: registry.url,
            policy: { semver: '^1.0.0' },
            credentials: { usernameEnv: 'REG_USER', passwordEnv: 'REG_PASSWORD' },
          },
          gitops: { repo, paths: Object.fromEntries(ENVS.map((e) => [e, `overlays/${e}`])) },
        });
      },
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a bearer token with the credentials from the environment (password from a _FILE) and deploys 1.1.0', async () => {
    const passwordFile = join(dir, 'registry-password');
    writeFileSync(passwordFile, `${TOKEN_PASSWORD}\n`);
    const discovery = buildImageDiscovery({
      runtime: t.runtime,
      log: pino({ level: 'silent' }),
      env: { REG_USER: TOKEN_USER, REG_PASSWORD_FILE: passwordFile },
    })!;
    const result = await discovery.look('worker');
    expect(result).toEqual({ outcome: 'deployed', tag: '1.1.0', digest: images[1]!.digest });
    expect(showFile(repo, 'overlays/development/kustomization.yaml')).toBe(
      overlayText('development', `${registry.host}/team/worker`, '1.1.0', images[1]!.digest),
    );
    expect(registry.tokenRequests.filter((r) => !r.authorized)).toEqual([]);
    expect(registry.tokenRequests.map((r) => r.scope)).toContain('repository:team/worker:pull');
    await discovery.stop();
  });

  it('without the credentials it names the missing variables and writes nothing', async () => {
    const before = git(repo, 'rev-parse', 'main');
    expect(() => buildImageDiscovery({ runtime: t.runtime, log: pino({ level: 'silent' }), env: {} })).toThrow(
      `registry credentials for ${registry.host}/team/worker: REG_USER and REG_PASSWORD not set (nor REG_USER_FILE, REG_PASSWORD_FILE)`,
    );
    expect(git(repo, 'rev-parse', 'main')).toBe(before);
  });
});
