/**
 * Real crashes against GitHub: child `conveyor run` processes on a configuration whose app lives
 * on the GitHub fake (REST + smart HTTP over real bare repositories). A child is SIGKILLed at a
 * crash point (CONVEYOR_CRASH_AT) right after an external effect and before it is recorded:
 * after the ref update on qa (before, and after, its deploy tag), after the pull-request merge into prod, after the deploy tag on
 * prod. The next start sweeps and resumes: each operation ends succeeded exactly once, the PR
 * is merged once, one deploy tag names the operation, and GitHub and the store agree.
 *
 * The children run asynchronously (execFile, never spawnSync): the fake answers from this
 * process's event loop.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { systemClock } from '../../src/core/ports.js';
import { openStore } from '../../src/store/open-store.js';
import { TokenStore } from '../../src/store/token-store.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { type SeededRepo, seedGitHubRepo } from '../support/github-repo-seed.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const TOKEN = 'ghp_KILLTESTTOKEN0123456789';
const SLOW = 240_000;

interface Child {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('kill -9 and resume on GitHub', () => {
  let gh: GitHubFake;
  let cwd: string;
  let api: SeededRepo;
  /** Each user's personal API token: outside the sandbox `conveyor run` acts as a token's owner. */
  const tokens: Record<string, string> = {};

  const git = (...args: string[]) =>
    execFileSync('git', ['--git-dir', api.dir, ...args], {
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
    }).trim();
  const head = (branch: string) => git('rev-parse', `refs/heads/${branch}`);
  const tagsOn = (env: string) => git('tag', '-l', `${env}/*`).split('\n').filter(Boolean);
  const tagMessage = (name: string) => git('tag', '-l', '--format=%(contents)', name);
  const tagCommit = (name: string) => git('rev-parse', `${name}^{commit}`);

  function conveyor(text: string, as: string, crashAt?: string): Promise<Child> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'silent',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GITHUB_TOKEN: TOKEN,
    };
    delete env.CONVEYOR_CRASH_AT;
    delete env.DATABASE_URL;
    if (crashAt) env.CONVEYOR_CRASH_AT = crashAt;
    env.CONVEYOR_TOKEN = tokens[as];
    return new Promise((done) => {
      const child = execFile(
        process.execPath,
        [BIN, 'run', text],
        { cwd, env, encoding: 'utf8', timeout: SLOW },
        (err, stdout, stderr) => {
          done({
            status: child.exitCode,
            signal: child.signalCode,
            stdout,
            stderr: err && !child.signalCode ? `${stderr}\n${err.message}` : stderr,
          });
        },
      );
    });
  }

  async function operation(id: string) {
    const store = await openStore(`pglite:${join(cwd, 'state')}`, systemClock);
    try {
      return await store.operationStore.operation(id);
    } finally {
      await store.close();
    }
  }

  const pulls = async () => {
    const res = await fetch(`${gh.url}/repos/acme/api/pulls?state=all`, {
      headers: { authorization: `token ${TOKEN}` },
    });
    return (await res.json()) as {
      number: number;
      state: string;
      merged_at: string | null;
      merge_commit_sha: string | null;
      head: { ref: string };
    }[];
  };

  beforeAll(async () => {
    gh = await startGitHubFake({ token: TOKEN });
    api = await seedGitHubRepo(gh, 'acme', 'api');
    cwd = mkdtempSync(join(tmpdir(), 'conveyor-github-kill-'));
    const config = {
      environments: [
        { name: 'development', branch: 'develop' },
        { name: 'qa', branch: 'qa' },
        { name: 'staging', branch: 'staging' },
        {
          name: 'prod',
          branch: 'prod',
          enters: 'pull-request',
          gate: { roles: { 'tech-lead': 1, 'product-owner': 1 } },
        },
      ],
      apps: [{ name: 'api', repo: 'acme/api' }],
      roles: {
        developer: { users: ['U_DEMO'] },
        'tech-lead': { users: ['U_LEAD'] },
        'product-owner': { users: ['U_PO'] },
      },
      state: { url: 'pglite:state' },
      git: { mirrorDir: 'mirrors', github: { baseUrl: gh.url, gitUrl: gh.url } },
    };
    writeFileSync(join(cwd, 'conveyor.yaml'), stringify(config));
    const store = await openStore(`pglite:${join(cwd, 'state')}`, systemClock);
    try {
      for (const user of ['U_DEMO', 'U_LEAD', 'U_PO'])
        tokens[user] = (await new TokenStore(store.db, systemClock).create(user, 'kill test')).token;
    } finally {
      await store.close();
    }
  }, SLOW);

  afterAll(async () => {
    await gh?.close();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'crash after the ref update on qa, on a GitHub without updateRefs: resumed, one tag, succeeded once',
    async () => {
      const develop = head('develop');
      // An older Enterprise Server: the branch and its tag's ref are two REST writes, and the
      // crash comes between them (in the same host call).
      gh.options.updateRefs = false;
      let crashed: Child;
      try {
        crashed = await conveyor('promote api qa', 'U_DEMO', 'after-branch-update');
      } finally {
        gh.options.updateRefs = true;
      }
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      expect(head('qa')).toBe(develop); // the write reached GitHub…
      expect(tagsOn('qa')).toEqual([api.tags.qa]); // …the tag did not

      const after = await conveyor('history api qa', 'U_DEMO');
      expect(after.status, after.stderr).toBe(0);
      const rows = after.stdout.split('\n').filter((l) => l.startsWith('op_'));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatch(/\bsucceeded\b/);
      const id = rows[0]!.split(/\s+/)[0]!;

      const tags = tagsOn('qa').filter((t) => t !== api.tags.qa);
      expect(tags).toHaveLength(1);
      expect(tagCommit(tags[0]!)).toBe(develop);
      expect(tagMessage(tags[0]!)).toContain(`Operation: ${id}`);
      const op = await operation(id);
      expect(op).toMatchObject({ state: 'succeeded', progress: { deployedSha: develop, tag: tags[0] } });
    },
    SLOW,
  );

  it(
    'crash after the tag object, before updateRefs moved anything: resumed, one tag, succeeded once',
    async () => {
      const qaBefore = head('qa');
      const tagsBefore = tagsOn('qa');
      const develop = await gh.commitFiles('acme', 'api', 'develop', { 'kill.txt': 'tag-object\n' }, 'Kill change');
      const crashed = await conveyor('promote api qa', 'U_DEMO', 'after-tag-object');
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      expect(head('qa')).toBe(qaBefore); // both refs or neither: neither
      expect(tagsOn('qa')).toEqual(tagsBefore);

      const after = await conveyor('history api qa', 'U_DEMO');
      expect(after.status, after.stderr).toBe(0);
      const newest = after.stdout.split('\n').find((l) => l.startsWith('op_')) ?? '';
      expect(newest).toMatch(/\bsucceeded\b/);
      const id = /^(op_\w+)/.exec(newest)?.[1];
      expect(head('qa')).toBe(develop);
      const written = tagsOn('qa').filter((t) => !tagsBefore.includes(t));
      expect(written).toHaveLength(1);
      expect(tagCommit(written[0]!)).toBe(develop);
      expect(tagMessage(written[0]!)).toContain(`Operation: ${id}`);
      expect(await operation(id!)).toMatchObject({ state: 'succeeded', progress: { deployedSha: develop } });
    },
    SLOW,
  );

  it(
    'crash after the branch and its tag were written on qa, before it was recorded: resumed, one tag, succeeded once',
    async () => {
      const tagsBefore = tagsOn('qa');
      const develop = await gh.commitFiles(
        'acme',
        'api',
        'develop',
        { 'kill.txt': 'after-push\n' },
        'Kill test change',
      );
      const crashed = await conveyor('promote api qa', 'U_DEMO', 'after-push');
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      expect(head('qa')).toBe(develop);
      const written = tagsOn('qa').filter((t) => !tagsBefore.includes(t));
      expect(written).toHaveLength(1); // the tag went with the branch
      expect(tagCommit(written[0]!)).toBe(develop);

      const after = await conveyor('history api qa', 'U_DEMO');
      expect(after.status, after.stderr).toBe(0);
      const newest = after.stdout.split('\n').find((l) => l.startsWith('op_')) ?? '';
      expect(newest).toMatch(/\bsucceeded\b/);
      const id = /^(op_\w+)/.exec(newest)?.[1];
      expect(id, after.stdout).toBeDefined();
      expect(tagsOn('qa').filter((t) => !tagsBefore.includes(t))).toEqual(written); // no second tag
      expect(tagMessage(written[0]!)).toContain(`Operation: ${id}`);
      const op = await operation(id!);
      expect(op).toMatchObject({ state: 'succeeded', progress: { deployedSha: develop, tag: written[0] } });
    },
    SLOW,
  );

  for (const point of ['after-merge', 'after-tag']) {
    it(
      `crash ${point} of a prod pull request: merged once, tagged once, succeeded once`,
      async () => {
        if (point === 'after-tag') {
          // the first prod test shipped staging; give prod something new: qa (develop) → staging
          const moved = await conveyor('promote api staging', 'U_DEMO');
          expect(moved.stdout).toMatch(/promote api qa → staging: succeeded/);
        }
        const staging = head('staging');
        const prodBefore = head('prod');
        const prodTags = tagsOn('prod');

        const asked = await conveyor('promote api prod', 'U_DEMO');
        expect(asked.status, asked.stderr).toBe(0);
        const id = /\((op_\w+)\)/.exec(asked.stdout)?.[1];
        expect(id, asked.stdout).toBeDefined();
        expect(asked.stdout).toContain('waiting for approval');
        const lead = await conveyor(`approve ${id}`, 'U_LEAD');
        expect(lead.status, lead.stderr).toBe(0);
        expect(head('prod')).toBe(prodBefore);

        const crashed = await conveyor(`approve ${id}`, 'U_PO', point);
        expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
        // GitHub has the merge; the store does not know it yet
        const mine = (await pulls()).find((p) => p.head.ref === `conveyor/${id}`);
        expect(mine).toMatchObject({ state: 'closed', merge_commit_sha: head('prod') });
        expect(mine!.merged_at).not.toBeNull();
        expect(git('rev-parse', `${head('prod')}^{tree}`)).toBe(git('rev-parse', `${staging}^{tree}`));
        expect(tagsOn('prod').length - prodTags.length).toBe(point === 'after-tag' ? 1 : 0);
        const recorded = await operation(id!);
        expect(recorded?.state).toBe('applying');
        const merged = head('prod');
        // what the killed process got to record: nothing of the merge, or the merge but not the tag
        expect(recorded?.progress.mergeSha).toBe(point === 'after-tag' ? merged : undefined);
        expect(recorded?.progress.deployedSha).toBeUndefined();

        const after = await conveyor('history api prod', 'U_DEMO');
        expect(after.status, after.stderr).toBe(0);
        expect(after.stdout.split('\n').find((l) => l.startsWith(id!))).toMatch(/\bsucceeded\b/);

        expect(head('prod')).toBe(merged); // nothing merged or pushed a second time
        expect((await pulls()).filter((p) => p.head.ref === `conveyor/${id}`)).toHaveLength(1);
        const newTags = tagsOn('prod').filter((t) => !prodTags.includes(t));
        expect(newTags).toHaveLength(1);
        expect(tagCommit(newTags[0]!)).toBe(merged);
        expect(tagMessage(newTags[0]!)).toContain(`Operation: ${id}`);
        expect(tagMessage(newTags[0]!)).toMatch(/Approved-By: .*U_LEAD \(tech-lead\)/);
        const op = await operation(id!);
        expect(op).toMatchObject({
          state: 'succeeded',
          progress: { mergeSha: merged, deployedSha: merged, tag: newTags[0] },
        });
      },
      SLOW,
    );
  }
});
