/**
 * `diff` of an image app whose application repository is on GitHub (`repo: acme/worker`): the
 * commits between the images' revisions are read through the GitHub host (its mirror, over the
 * fake's smart-HTTP Git with the token), the images' labels from a local OCI layout, the
 * environments from a plain GitOps repository.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeOciLayout } from '../../src/sandbox/oci-layout.js';
import { git, pushCommit } from '../support/git-helpers.js';
import { startGitHubFake } from '../support/github-fake.js';
import { type SeededRepo, seedGitHubRepo } from '../support/github-repo-seed.js';
import { createGitopsRepo, overlayText } from '../support/gitops-repo.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const TOKEN = 'image-diff-token';
const IMAGE = 'registry.example.com/team/worker';
const ENVS = ['development', 'qa', 'staging', 'prod'];

describe('diff of an image app whose application repository is on GitHub', () => {
  let gh: Awaited<ReturnType<typeof startGitHubFake>>;
  let seeded: SeededRepo;
  let dir: string;
  let t: TestRuntime;
  let digests: Record<string, string>;

  beforeAll(async () => {
    gh = await startGitHubFake({ token: TOKEN });
    seeded = await seedGitHubRepo(gh, 'acme', 'worker');
    dir = mkdtempSync(join(tmpdir(), 'conveyor-image-diff-github-'));
    const layout = join(dir, 'layout');
    const written = writeOciLayout(
      layout,
      [
        ['1.0.0', seeded.commits[0]!],
        ['1.2.0', seeded.commits[2]!],
      ].map(([tag, revision]) => ({
        tag: tag!,
        labels: {
          'org.opencontainers.image.revision': revision!,
          'org.opencontainers.image.source': 'https://github.com/acme/worker',
        },
      })),
    );
    digests = Object.fromEntries(written.map((w) => [w.tag, w.digest]));
    const repo = createGitopsRepo(dir, { image: IMAGE, envs: ENVS, tag: '1.0.0', digest: digests['1.0.0']! });
    pushCommit(repo, 'main', {
      path: 'overlays/development/kustomization.yaml',
      content: overlayText('development', IMAGE, '1.2.0', digests['1.2.0']!),
      message: 'ci: worker 1.2.0',
    });
    t = await makeRuntime({
      edit: (c) => {
        c.git = { ...c.git, github: { baseUrl: gh.url, gitUrl: gh.url } };
        c.apps.push({
          name: 'worker',
          repo: 'acme/worker',
          strategy: 'image',
          image: { repository: IMAGE, layout, policy: { semver: '>=1.0.0' } },
          gitops: { repo, paths: Object.fromEntries(ENVS.map((e) => [e, `overlays/${e}`])) },
        });
      },
      extra: { env: { GITHUB_TOKEN: TOKEN } },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await gh?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the application commits between the two revisions, read from GitHub', async () => {
    const reply = await t.run('diff development qa worker');
    expect(reply.text).toContain(`development: ${IMAGE}:1.2.0@${digests['1.2.0']}`);
    expect(reply.text).toContain(`qa: ${IMAGE}:1.0.0@${digests['1.0.0']}`);
    const expected = git(seeded.dir, 'log', '--format=%h %s', `${seeded.commits[0]}..${seeded.commits[2]}`).split('\n');
    expect(expected).toHaveLength(2);
    expect(reply.text).toContain('2 application commit(s) between them (acme/worker)');
    for (const line of expected) expect(reply.text).toContain(line.split(' ').slice(1).join(' '));
    expect(reply.text).toContain('built from');
    expect(reply.text).toContain('of https://github.com/acme/worker');
  });
});
