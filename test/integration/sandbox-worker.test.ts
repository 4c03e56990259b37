/**
 * The sandbox's image app `worker` through the real command line (`conveyor run …`, in this
 * process, on a fresh folder as `npm start` makes it): list, diff with the application commits
 * between two images, promote (dry run, then for real), rollback, history. The names Conveyor
 * shows (deploy tags with the app's prefix) and every command it suggests are typed back and
 * accepted. After each write the GitOps repository is read with plain `git` and rendered with
 * `kubectl kustomize`: the image field changed and nothing else did. The images' digests and
 * labels are the ones `skopeo inspect` reads from the sandbox's OCI layout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { workerOverlay } from '../../src/sandbox/worker-demo.js';
import { git } from '../support/git-helpers.js';
import { KUBECTL, renderOverlay, showFile } from '../support/gitops-repo.js';

const IMAGE = 'registry.example.com/team/worker';
const QA_FILE = 'overlays/qa/kustomization.yaml';
const SKOPEO = '/usr/bin/skopeo';

let root: string;
let sandbox: string;
const deploy = () => join(sandbox, 'repos', 'deploy.git');
const appRepo = () => join(sandbox, 'repos', 'worker.git');

/** `conveyor run "<text>" --as <user>` in this process, in the sandbox folder. */
async function run(text: string, user = 'U_DEMO'): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(
    ['run', text, '--as', user],
    { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) },
    root,
  );
  return { code, out, err };
}

/** What skopeo reads from the sandbox's OCI layout for a tag. */
function inspect(tag: string): { Digest: string; Labels: Record<string, string> } {
  return JSON.parse(
    execFileSync(SKOPEO, ['inspect', `oci:${join(sandbox, 'images', 'worker')}:${tag}`], { encoding: 'utf8' }),
  );
}

/** The `list` row of an environment: its deploy tag column. */
function tagInList(out: string, env: string): string {
  const row = out.split('\n').find((l) => new RegExp(`^worker\\s+${env}[\\s(]`).test(l));
  expect(row, out).toBeDefined();
  return row!.split(/\s{2,}/)[2]!;
}

/** Files changed by the last commit on main. */
const lastChange = () => git(deploy(), 'diff', '--name-only', 'main~1', 'main').split('\n').filter(Boolean);

describe.skipIf(!existsSync(SKOPEO))('sandbox worker: an image app through the CLI', { timeout: 240_000 }, () => {
  let before: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'conveyor-worker-'));
    sandbox = join(root, '.conveyor', 'sandbox');
    process.env.GIT_CONFIG_GLOBAL ??= '/dev/null';
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('list shows each environment deploy tag as git lists it, with the app prefix, and its image', async () => {
    const { code, out, err } = await run('list worker');
    expect(err).toBe('');
    expect(code).toBe(0);
    for (const env of ['development', 'qa', 'staging', 'prod']) {
      const tag = tagInList(out, env);
      expect(tag).toMatch(new RegExp(`^worker/${env}/\\d{4}\\.\\d{2}\\.\\d{2}\\.\\d+$`));
      expect(git(deploy(), 'tag', '--list', tag)).toBe(tag); // the very name of a tag in the GitOps repo
    }
    expect(out).toContain('worker:1.3.0');
    expect(out).toContain('Promote development to qa: worker:1.2.0');
    // The overlays name what skopeo reads from the layout.
    expect(showFile(deploy(), QA_FILE)).toBe(workerOverlay('qa', '1.2.0', inspect('1.2.0').Digest));
  });

  it('diff shows both image references and the application commits between their revisions', async () => {
    const { code, out } = await run('diff development qa worker');
    expect(code).toBe(0);
    const [newer, older] = [inspect('1.3.0'), inspect('1.2.0')];
    expect(out).toContain(`development: ${IMAGE}:1.3.0@${newer.Digest}`);
    expect(out).toContain(`qa: ${IMAGE}:1.2.0@${older.Digest}`);
    // The revisions are real commits of the application repository; diff lists those between them.
    const from = older.Labels['org.opencontainers.image.revision']!;
    const to = newer.Labels['org.opencontainers.image.revision']!;
    expect(git(appRepo(), 'cat-file', '-t', to)).toBe('commit');
    const between = git(appRepo(), 'log', '--format=%h %s', `${from}..${to}`).split('\n');
    expect(between).toHaveLength(2);
    expect(out).toContain(`${between.length} application commit(s) between them (./repos/worker.git)`);
    for (const line of between) expect(out).toContain(line.split(' ').slice(1).join(' '));
    expect(out).toContain(`built from ${to.slice(0, 8)}`);
    // The suggestion is accepted (as a dry run, which changes nothing).
    const suggested = out.trim().split('\n').at(-1)!;
    expect(suggested).toBe('promote worker qa');
    expect((await run(`${suggested} --dry-run`)).code).toBe(0);
  });

  it('promote --dry-run names the GitOps file and field it will change, and changes nothing', async () => {
    const mainBefore = git(deploy(), 'rev-parse', 'main');
    const { code, out } = await run('promote worker qa --dry-run');
    expect(code).toBe(0);
    expect(out).toContain(`${QA_FILE}: images[name=${IMAGE}].newTag 1.2.0 → 1.3.0`);
    expect(out).toContain(
      `${QA_FILE}: images[name=${IMAGE}].digest ${inspect('1.2.0').Digest} → ${inspect('1.3.0').Digest}`,
    );
    expect(out).toContain('one commit on main of the GitOps repository ./repos/deploy.git');
    expect(out).not.toContain('conveyor/worker'); // the internal version branch is not what changes
    expect(out).toMatch(/deploy tag: worker\/qa\/\d{4}\.\d{2}\.\d{2}\.\d+ \(annotated\)/);
    expect(git(deploy(), 'rev-parse', 'main')).toBe(mainBefore);
  });

  it('promote worker qa: one commit on main touching only the qa image field; kustomize renders the new image', async () => {
    before = showFile(deploy(), QA_FILE);
    const { code, out } = await run('promote worker qa');
    expect(code, out).toBe(0);
    expect(out).toContain('succeeded');
    // The reply lists the application commits that ship, and names the deploy tag as git lists it.
    expect(out).toContain('2 commit(s)');
    expect(out).toContain('Retry poison messages three times (Chloe Dev)');
    expect(out).not.toContain('in development (Conveyor)'); // not the version branch's own commits
    const tagged = /tagged (\S+)/.exec(out)?.[1];
    expect(tagged).toMatch(/^worker\/qa\/\d{4}\.\d{2}\.\d{2}\.\d+$/);
    expect(git(deploy(), 'tag', '--list', tagged!)).toBe(tagged);
    expect(lastChange()).toEqual([QA_FILE]);
    const [older, newer] = [inspect('1.2.0').Digest, inspect('1.3.0').Digest];
    expect(showFile(deploy(), QA_FILE)).toBe(
      before.replace('newTag: "1.2.0"', 'newTag: "1.3.0"').replace(older, newer),
    );
    const rendered = renderOverlay(deploy(), 'overlays/qa');
    if (existsSync(KUBECTL)) expect(rendered).toContain(`image: ${IMAGE}:1.3.0@${newer}`);
    // The other overlays are untouched.
    expect(showFile(deploy(), 'overlays/staging/kustomization.yaml')).toBe(
      workerOverlay('staging', '1.1.0', inspect('1.1.0').Digest),
    );
  });

  it('rollback --to refuses an unknown version and lists names that are accepted when typed back', async () => {
    const refused = await run('rollback worker qa --to qa/1999.01.01.1');
    expect(refused.code).toBe(1);
    const list = /rollback --to takes a version that ran in qa: (.*)$/m.exec(refused.out + refused.err)?.[1];
    expect(list, refused.out + refused.err).toBeDefined();
    const candidates = list!.split(', ').map((c) => c.replace(/ \(rolled back from\)$/, ''));
    expect(candidates.length).toBeGreaterThanOrEqual(2);
    for (const c of candidates) {
      expect(c).toMatch(/^worker\/qa\//);
      const tried = await run(`rollback worker qa --to ${c} --dry-run`);
      expect(tried.code, tried.out + tried.err).toBe(0);
      expect(tried.out).toContain(`version: ${c}`);
    }
  });

  it('rollback worker qa: back to 1.2.0, the field and nothing else; history marks what was left', async () => {
    const { code, out } = await run('rollback worker qa');
    expect(code, out).toBe(0);
    expect(lastChange()).toEqual([QA_FILE]);
    expect(showFile(deploy(), QA_FILE)).toBe(before);
    const rendered = renderOverlay(deploy(), 'overlays/qa');
    if (existsSync(KUBECTL)) expect(rendered).toContain(`image: ${IMAGE}:1.2.0@${inspect('1.2.0').Digest}`);

    const history = await run('history worker qa');
    expect(history.code).toBe(0);
    const rows = history.out.split('\n').filter((l) => l.startsWith('worker/qa/'));
    expect(rows.length).toBe(4); // 1.1.0, 1.2.0 (sandbox history), 1.3.0 (promote), 1.2.0 again (rollback)
    expect(rows[0]).toMatch(/ rollback .* current$/);
    expect(rows[1]).toMatch(/ promote .* rolled back from$/);
    for (const r of rows) expect(git(deploy(), 'tag', '--list', r.split(' ')[0]!)).toBe(r.split(' ')[0]);
    // Where rollback would go, by a name it accepts.
    const next = /rollback worker qa would return to (\S+)/.exec(history.out)?.[1];
    expect(next).toMatch(/^worker\/qa\//);
    const tried = await run(`rollback worker qa --to ${next} --dry-run`);
    expect(tried.code, tried.out).toBe(0);
    expect(tried.out).toContain(`${QA_FILE}: images[name=${IMAGE}].newTag 1.2.0 → 1.1.0`);
  });

  it('a deploy tag shown by list is taken by promote --version; the refusal names a command that is accepted', async () => {
    const { out } = await run('list worker development');
    const tag = tagInList(out, 'development');
    // qa rolled back from 1.3.0: refused, with the way out spelled with the same name.
    const refused = await run(`promote worker qa --version ${tag}`);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(`${tag} was rolled back from in qa`);
    const suggested = refused.out.trim().split('\n').at(-1)!;
    expect(suggested).toBe(`promote worker qa --version ${tag} --force`);
    const tried = await run(`${suggested} --dry-run`);
    expect(tried.code, tried.out + tried.err).toBe(0);
    expect(tried.out).toContain(`${QA_FILE}: images[name=${IMAGE}].newTag 1.2.0 → 1.3.0`);
    // And by the name without the prefix, as before.
    const short = await run(`promote worker qa --version ${tag.slice('worker/'.length)} --force --dry-run`);
    expect(short.code, short.out).toBe(0);
  });
});
