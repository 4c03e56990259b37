/**
 * The directory strategy: environments are folders of one branch. Promote makes the target
 * folder's tree equal to the source's — environment-specific files kept — in one commit that
 * touches nothing outside that folder; rollback returns the folder to what ran there before.
 * Checked with plain git on the bare repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const ENVS = ['development', 'qa', 'staging', 'prod'];
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

const deployment = (image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: site\nspec:\n  template:\n    spec:\n      containers:\n        - name: site\n          image: ${image}\n`;

/** A bare repository with envs/<env>/ folders; development is one change ahead. */
function createRepo(dir: string): string {
  const work = join(dir, 'work');
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), text);
  };
  for (const env of ENVS) {
    write(`envs/${env}/deployment.yaml`, deployment('registry.example.com/site:1.0.0'));
    write(`envs/${env}/kustomization.yaml`, 'resources:\n  - deployment.yaml\n');
    write(`envs/${env}/config.env`, `ENVIRONMENT=${env}\nDATABASE_URL=postgres://db.${env}.internal/site\n`);
  }
  write('README.md', 'Environments of the site, one folder each.\n');
  const run = (...args: string[]) => execFileSync('git', args, { cwd: work, env: gitEnv, stdio: 'ignore' });
  run('init', '--quiet', '--initial-branch=main');
  run('add', '.');
  run('-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', 'commit', '--quiet', '-m', 'environments');
  // development moves ahead: a new image and a new file.
  write('envs/development/deployment.yaml', deployment('registry.example.com/site:1.1.0'));
  write(
    'envs/development/hpa.yaml',
    'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: site\n',
  );
  run('add', '.');
  run(
    '-c',
    'user.name=Dev',
    '-c',
    'user.email=dev@example.com',
    'commit',
    '--quiet',
    '-m',
    'site 1.1.0 in development',
  );
  const bare = join(dir, 'site.git');
  execFileSync('git', ['clone', '--quiet', '--bare', work, bare], { env: gitEnv, stdio: 'ignore' });
  return bare;
}

/** path → blob sha of every file under a folder at `rev`. */
function filesOf(repo: string, rev: string, folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of git(repo, 'ls-tree', '-r', `${rev}:${folder}`).split('\n').filter(Boolean)) {
    const [meta, path] = line.split('\t');
    out[path!] = meta!.split(' ')[2]!;
  }
  return out;
}

describe('directory strategy: environments as folders of one branch', () => {
  let t: TestRuntime;
  let dir: string;
  let repo: string;
  let qaBefore: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-directory-'));
    repo = createRepo(dir);
    qaBefore = filesOf(repo, 'main', 'envs/qa');
    t = await makeRuntime({
      edit: (c) => {
        c.apps.push({
          name: 'site',
          repo,
          strategy: 'directory',
          gitops: {
            paths: Object.fromEntries(ENVS.map((e) => [e, `envs/${e}`])),
            envSpecific: ['config.env'],
          },
        });
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('promote site qa: qa becomes development, its own config.env kept, one commit inside envs/qa', async () => {
    const reply = await t.run('promote site qa', 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    const dev = filesOf(repo, 'main', 'envs/development');
    const qa = filesOf(repo, 'main', 'envs/qa');
    expect(qa).toEqual({ ...dev, 'config.env': qaBefore['config.env'] });
    expect(git(repo, 'show', 'main:envs/qa/config.env')).toContain('ENVIRONMENT=qa');
    expect(git(repo, 'diff', '--name-only', 'main~1', 'main').split('\n').sort()).toEqual([
      'envs/qa/deployment.yaml',
      'envs/qa/hpa.yaml',
    ]);
    expect(git(repo, 'log', '-1', '--format=%B', 'main')).toContain(`Conveyor-Operation: ${reply.operation!.id}`);
    expect(git(repo, 'tag', '--list', 'site/qa/*').split('\n')).toHaveLength(2); // recorded + this deploy
  });

  it('has nothing more to promote into qa', async () => {
    const reply = await t.run('promote site qa', 'U_DEMO');
    expect(reply.text).toContain('nothing to promote');
  });

  it('rollback site qa returns the folder to what ran there, config.env untouched', async () => {
    const reply = await t.run('rollback site qa', 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    expect(filesOf(repo, 'main', 'envs/qa')).toEqual(qaBefore);
    expect(git(repo, 'diff', '--name-only', 'main~1', 'main').split('\n').sort()).toEqual([
      'envs/qa/deployment.yaml',
      'envs/qa/hpa.yaml',
    ]);
    // The other folders never moved (main~2: before the promotion).
    expect(
      git(
        repo,
        'diff',
        '--name-only',
        'main~2',
        'main',
        '--',
        'envs/development',
        'envs/staging',
        'envs/prod',
        'README.md',
      ),
    ).toBe('');
  });
});
