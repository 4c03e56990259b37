/**
 * Registry push → first-environment commit: the real distribution server (docker-registry) on
 * loopback, a new tag pushed with skopeo, the generic registry webhook posted, and the time until
 * the GitOps repository's main branch holds the discovery's commit (the development overlay
 * naming the new digest). Measured from the moment skopeo returned; the webhook call, the
 * registry reads (tags, manifest HEAD), the GitOps fetch, the file splice, the commit and the
 * push are all inside. Skipped (reported as not completed) without docker-registry and skopeo.
 * The registry (with the first tag), the OCI layout of the tags and the GitOps repository are
 * made while the bench loads (the scenario's `prepare`: idle until its run); the runtime is made
 * in the run. Conveyor's modules are imported by the run, so that the `prepare` starts before the
 * bench has loaded them.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createGitopsRepo, showFile } from '../../test/support/gitops-repo.js';
import { writeOciLayout } from '../../test/support/oci-layout.js';
import { registryMissing, startRegistry } from '../../test/support/registry.js';
import type { makeRuntime } from '../../test/support/runtime.js';
import { figure, type Scenario, type ScenarioContext } from '../lib/figure.js';
import { percentile, waitUntil } from '../lib/stats.js';

const ENVS = ['development', 'qa', 'staging', 'prod'];

/** main's sha in a bare repository, from its loose ref (a push writes one) or packed-refs. */
function mainOf(repo: string): string {
  try {
    return readFileSync(join(repo, 'refs', 'heads', 'main'), 'utf8').trim();
  } catch {
    const packed = readFileSync(join(repo, 'packed-refs'), 'utf8');
    return /^([0-9a-f]{40}) refs\/heads\/main$/m.exec(packed)?.[1] ?? '';
  }
}
const TOKEN = 'bench-registry-hook';

/** The registry with the first tag pushed, the OCI layout of every tag, the GitOps repository: idle once made. */
interface Registry {
  dir: string;
  layout: string;
  tags: string[];
  images: { digest: string }[];
  registry: Awaited<ReturnType<typeof startRegistry>>;
  image: string;
  repo: string;
  stop(): Promise<void>;
}

/** Measures nothing (the scenario's `prepare`, started while the bench loads). */
async function startRegistryFixture(samples: number): Promise<Registry> {
  const missing = registryMissing();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-registry-'));
  const layout = join(dir, 'layout');
  const tags = Array.from({ length: samples + 1 }, (_, i) => `1.0.${i}`);
  let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
  try {
    const images = writeOciLayout(
      layout,
      tags.map((tag) => ({ tag })),
    );
    registry = await startRegistry();
    await registry.push(layout, '1.0.0', 'team/worker');
    const image = `${registry.host}/team/worker`;
    const repo = createGitopsRepo(dir, { image, envs: ENVS, tag: '1.0.0', digest: images[0]!.digest });
    const running = registry;
    return {
      dir,
      layout,
      tags,
      images,
      registry,
      image,
      repo,
      async stop() {
        await running.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function latencies(fixture: Registry, ctx: ScenarioContext): Promise<number[]> {
  const { log } = ctx;
  const { layout, tags, images, registry, image, repo } = fixture;
  const samples = tags.length - 1;
  const [{ buildImageDiscovery }, { HttpServer }, { makeRuntime }] = await Promise.all([
    import('../../src/compose/image-discovery.js'),
    import('../../src/server/http-server.js'),
    import('../../test/support/runtime.js'),
  ]);
  const logger = pino({ level: 'silent' });
  const http = new HttpServer(logger);
  let t: Awaited<ReturnType<typeof makeRuntime>> | undefined;
  try {
    t = await makeRuntime({
      edit: (c) => {
        c.apps.push({
          name: 'worker',
          repo: './repos/api.git',
          strategy: 'image',
          image: { repository: image, registryUrl: registry.url, policy: { semver: '>=1.0.0' }, pollInterval: '1h' },
          gitops: { repo, paths: Object.fromEntries(ENVS.map((e) => [e, `overlays/${e}`])) },
        });
      },
    });
    const discovery = buildImageDiscovery({ runtime: t.runtime, http, log: logger, webhookToken: TOKEN })!;
    const hook = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}/hooks/registry`;
    await ctx.quiet(); // the earlier scenarios' tear-downs are done before the warm-up and pushes
    // Warm up: the first look fetches the GitOps mirror and records every environment.
    log('runtime ready; warm-up look');
    await discovery.look('worker');
    log(`${samples} pushes`);
    const out: number[] = [];
    for (let i = 1; i <= samples; i++) {
      const tag = tags[i]!;
      const digest = images[i]!.digest;
      await registry.push(layout, tag, 'team/worker');
      const before = mainOf(repo);
      const t0 = performance.now();
      const res = await fetch(hook, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ repository: image, tag, digest }),
      });
      await res.body?.cancel();
      await waitUntil('the discovery commit on main', () => mainOf(repo) !== before, 30_000, 2);
      out.push(performance.now() - t0);
      if (!showFile(repo, 'overlays/development/kustomization.yaml').includes(digest)) {
        throw new Error(`main moved, but the development overlay does not name ${tag}`);
      }
      if (i % 10 === 0) log(`${i}/${samples}`);
    }
    await discovery.stop();
    return out;
  } finally {
    const runtime = t;
    ctx.afterward(async () => {
      await http.close();
      await runtime?.close();
      await fixture.stop();
    });
  }
}

const samplesOf = (quick: boolean) => (quick ? 6 : 40);

export const registryDiscovery: Scenario = {
  name: 'registry-discovery',
  title: 'registry push → first-environment commit (webhook, real registry)',
  timeoutMs: (quick) => (quick ? 240_000 : 600_000),
  prepare: (quick) => startRegistryFixture(samplesOf(quick)),
  setUpBesideTearDown: true,
  async run(ctx, prepared) {
    const samples = samplesOf(ctx.quick);
    ctx.log(
      prepared
        ? 'the registry (the first tag pushed), the OCI layout of the tags and the GitOps repository were made while the bench loaded; a runtime'
        : 'the registry, an OCI layout of the tags, the GitOps repository and a runtime',
    );
    const ms = await latencies((await (prepared ?? startRegistryFixture(samples))) as Registry, ctx);
    const notes = `${samples} pushes${ctx.quick ? ' (quick size)' : ''}; from skopeo's return to the commit on the GitOps main branch; webhook → tags list → manifest HEAD → GitOps fetch → splice → commit → push`;
    return [
      figure({
        scenario: 'registry-discovery',
        figure: 'registry push → development commit p50',
        unit: 'ms',
        value: percentile(ms, 50),
        check: { kind: 'max', max: 2000 },
        notes,
      }),
      figure({
        scenario: 'registry-discovery',
        figure: 'registry push → development commit p99',
        unit: 'ms',
        value: percentile(ms, 99),
        check: { kind: 'max', max: 5000 },
      }),
    ];
  },
};
