/**
 * The image strategy through the unchanged engine: an app whose environments are image
 * references in Kustomize overlays of a GitOps repository (a real bare repo). CI moves the first
 * environment by editing its overlay; promote copies the reference to the next overlay (gates,
 * approvals, deploy tags as for branches), rollback restores the previous one. After each step the
 * repository is checked with plain git and `kubectl kustomize`: the image field changed and
 * nothing else did.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, pushCommit } from '../support/git-helpers.js';
import { createGitopsRepo, overlayText, renderOverlay, showFile } from '../support/gitops-repo.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const IMAGE = '127.0.0.1:5000/team/worker';
const D0 = `sha256:${'0'.repeat(64)}`;
const D1 = `sha256:${'1'.repeat(64)}`;
const ENVS = ['development', 'qa', 'staging', 'prod'];

/** Files changed by the last commit on main. */
function lastChange(repo: string): string[] {
  return git(repo, 'diff', '--name-only', 'main~1', 'main').split('\n').filter(Boolean);
}

/** Edit the development overlay as CI would (a plain push to main by someone else). */
function ciPushes(repo: string, tag: string, digest: string): void {
  pushCommit(repo, 'main', {
    path: 'overlays/development/kustomization.yaml',
    content: overlayText('development', IMAGE, tag, digest),
    message: `ci: worker ${tag}`,
  });
}

describe('image strategy: promote and roll back image references in a GitOps repository', () => {
  let t: TestRuntime;
  let repo: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-image-strategy-'));
    repo = createGitopsRepo(dir, { image: IMAGE, envs: ENVS, tag: '1.0.0', digest: D0 });
    t = await makeRuntime({
      edit: (c) => {
        c.apps.push({
          name: 'worker',
          repo: './repos/api.git',
          strategy: 'image',
          image: { repository: IMAGE, registryUrl: 'http://127.0.0.1:5000', policy: { semver: '>=1.0.0' } },
          gitops: {
            repo,
            paths: Object.fromEntries(ENVS.map((e) => [e, `overlays/${e}`])),
          },
        });
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has nothing to promote while every overlay names the same image', async () => {
    const reply = await t.run('promote worker qa', 'U_DEMO');
    expect(reply.text).toContain('nothing to promote');
    expect(git(repo, 'rev-list', '--count', 'main')).toBe('1');
  });

  it('development → qa: one commit touching only the qa image field, and a deploy tag for worker', async () => {
    ciPushes(repo, '1.1.0', D1);
    const before = showFile(repo, 'overlays/qa/kustomization.yaml');
    const reply = await t.run('promote worker qa', 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    expect(lastChange(repo)).toEqual(['overlays/qa/kustomization.yaml']);
    const after = showFile(repo, 'overlays/qa/kustomization.yaml');
    expect(after).toBe(before.replace('newTag: "1.0.0"', 'newTag: "1.1.0"').replace(D0, D1));
    expect(git(repo, 'log', '-1', '--format=%B', 'main')).toContain(`Conveyor-Operation: ${reply.operation!.id}`);
    const rendered = renderOverlay(repo, 'overlays/qa');
    if (rendered !== null) expect(rendered).toContain(`image: ${IMAGE}:1.1.0@${D1}`);
    // The version qa ran before (recorded from its file) and this deploy, both per app.
    const tags = git(repo, 'tag', '--list', '--sort=creatordate', 'worker/qa/*').split('\n');
    expect(tags).toHaveLength(2);
    expect(git(repo, 'tag', '-l', '--format=%(contents)', tags[0]!)).toContain('Kind: recorded');
    expect(git(repo, 'tag', '-l', '--format=%(contents)', tags[1]!)).toContain(`Operation: ${reply.operation!.id}`);
    expect(git(repo, 'tag', '--list', 'qa/*')).toBe('');
  });

  it('qa → staging waits for the qa-lead, writes nothing until then', async () => {
    const mainBefore = git(repo, 'rev-parse', 'main');
    const asked = await t.run('promote worker staging', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    const approved = await t.run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(approved.operation?.state).toBe('succeeded');
    expect(lastChange(repo)).toEqual(['overlays/staging/kustomization.yaml']);
    expect(showFile(repo, 'overlays/staging/kustomization.yaml')).toBe(overlayText('staging', IMAGE, '1.1.0', D1));
  });

  it('staging → prod (a pull-request environment: the gate stands in) needs the tech-lead and the product-owner', async () => {
    const asked = await t.run('promote worker prod', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    await t.run(`approve ${asked.operation!.id}`, 'U_LEAD');
    const done = await t.run(`approve ${asked.operation!.id}`, 'U_PO');
    expect(done.operation?.state).toBe('succeeded');
    expect(showFile(repo, 'overlays/prod/kustomization.yaml')).toBe(overlayText('prod', IMAGE, '1.1.0', D1));
    const rendered = renderOverlay(repo, 'overlays/prod');
    if (rendered !== null) expect(rendered).toContain(`image: ${IMAGE}:1.1.0@${D1}`);
  });

  it('--version takes an image version the source has run (by tag or by digest), and refuses one it has not', async () => {
    const D2 = `sha256:${'2'.repeat(64)}`;
    ciPushes(repo, '1.2.0', D2);
    const refused = await t.run('promote worker qa --version 9.9.9', 'U_DEMO');
    expect(refused.status).not.toBe('ok');
    expect(refused.text).toContain('no tag or commit "9.9.9" in worker');
    const reply = await t.run(`promote worker qa --version ${D2}`, 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    expect(showFile(repo, 'overlays/qa/kustomization.yaml')).toBe(overlayText('qa', IMAGE, '1.2.0', D2));
  });

  it('list and history show the image versions (version-branch commit subjects)', async () => {
    const list = await t.run('list worker', 'U_DEMO');
    const row = (env: string) => list.text.split('\n').find((l) => l.startsWith(`worker  ${env} `)) ?? '';
    expect(row('development')).toContain('worker:1.2.0 (sha256:222222222222) in development');
    expect(row('qa')).toContain('Promote development to qa: worker:1.2.0 (sha256:2'); // the column is cut
    expect(row('prod')).toContain('Promote staging to prod: worker:1.1.0 (sha256:1');
    const history = await t.run('history worker qa', 'U_DEMO');
    // Deploy tags by their names in the GitOps repository (several apps may share it).
    expect(history.text).toContain('rollback worker qa would return to worker/qa/');
    expect(history.text).toMatch(/^worker\/qa\/\d{4}\.\d{2}\.\d{2}\.1 +\w+ +recorded +\(the GitOps repository\)/m);
  });

  it('rollback worker prod restores the reference that ran there before, and nothing else', async () => {
    const asked = await t.run('rollback worker prod', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    await t.run(`approve ${asked.operation!.id}`, 'U_LEAD');
    const done = await t.run(`approve ${asked.operation!.id}`, 'U_PO');
    expect(done.operation?.state).toBe('succeeded');
    expect(lastChange(repo)).toEqual(['overlays/prod/kustomization.yaml']);
    expect(showFile(repo, 'overlays/prod/kustomization.yaml')).toBe(overlayText('prod', IMAGE, '1.0.0', D0));
    // The other overlays kept what they run.
    expect(showFile(repo, 'overlays/staging/kustomization.yaml')).toBe(overlayText('staging', IMAGE, '1.1.0', D1));
  });
});
