/**
 * Real crashes: `conveyor run "promote api qa"` in a child process is SIGKILLed at a crash
 * point (CONVEYOR_CRASH_AT, src/core/fault-points.ts), right after an external effect and before
 * it is recorded. The next CLI start sweeps and resumes it: the operation ends succeeded exactly
 * once, with exactly one deploy tag, and no second operation. Plain git is the truth.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/ports.js';
import { openStore } from '../../src/store/open-store.js';
import { head, pushCommit, tagMessage, tagNames, tagsAt } from '../support/git-helpers.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const SLOW = 240_000; // each child start opens PGlite: seconds, more on a loaded machine

interface HistoryRow {
  id: string;
  kind: string;
  app: string;
  env: string;
  outcome: string;
}

describe('kill -9 and resume', () => {
  let cwd: string;
  let repo: string;
  let stateDir: string;
  /** What `history` said right after each crash, before any lease ran out. */
  const immediate: Record<string, string> = {};
  /** Operations seen so far. */
  const known = new Set<string>();

  function conveyor(text: string, crashAt?: string) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'silent',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    delete env.CONVEYOR_CRASH_AT;
    if (crashAt) env.CONVEYOR_CRASH_AT = crashAt;
    return spawnSync(process.execPath, [BIN, 'run', text, '--as', 'U_DEMO'], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: SLOW,
    });
  }

  function history(): HistoryRow[] {
    const res = conveyor('history api qa');
    expect(res.status, res.stderr).toBe(0);
    return res.stdout
      .split('\n')
      .filter((l) => l.startsWith('op_'))
      .map((l) => {
        const [id, kind, app, env, , , outcome] = l.split(/\s{2,}/);
        return { id: id!, kind: kind!, app: app!, env: env!, outcome: outcome! };
      });
  }

  /**
   * The killed process still "claims" its operation for the claim lease (60 s). Let it run out
   * without waiting: the same as a restart a minute later.
   */
  async function expireClaims(): Promise<void> {
    const store = await openStore(`pglite:${stateDir}`, systemClock);
    try {
      await store.db.query(`UPDATE operations SET claimed_until = $1 WHERE claimed_by IS NOT NULL`, [
        new Date(Date.now() - 60_000).toISOString(),
      ]);
    } finally {
      await store.close();
    }
  }

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'conveyor-crash-'));
    repo = join(cwd, '.conveyor', 'sandbox', 'repos', 'api.git');
    stateDir = join(cwd, '.conveyor', 'sandbox', 'state');
  });
  afterAll(() => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'control: without a crash point the promotion succeeds with one tag',
    () => {
      const res = conveyor('promote api qa');
      expect(res.signal).toBeNull();
      expect(res.status, res.stderr).toBe(0);
      const id = /promote api development → qa: succeeded \((op_\w+)\)/.exec(res.stdout)?.[1];
      expect(id, res.stdout).toBeDefined();
      known.add(id!);
      expect(head(repo, 'qa')).toBe(head(repo, 'develop'));
      expect(tagsAt(repo, head(repo, 'qa'), 'qa/')).toHaveLength(1);
      expect(existsSync(`${stateDir}.lock`)).toBe(false);
    },
    SLOW,
  );

  for (const point of ['after-push', 'after-tag']) {
    it(
      `crash ${point}: resumed on the next start, succeeded exactly once, one tag`,
      async () => {
        const develop = pushCommit(repo, 'develop', { message: `Change before the ${point} crash` });
        const qaTagsBefore = tagNames(repo, 'qa/');

        const crashed = conveyor('promote api qa', point);
        expect(crashed.signal).toBe('SIGKILL');
        // the stale PGlite lock file names the dead process
        expect(JSON.parse(readFileSync(`${stateDir}.lock`, 'utf8')).pid).toBe(crashed.pid);
        // the Git write happened, the record did not: on plain Git the branch and its deploy tag
        // are one atomic push, so the tag is there after either crash point
        expect(head(repo, 'qa')).toBe(develop);
        const tagged = tagNames(repo, 'qa/').filter((n) => !qaTagsBefore.includes(n));
        expect(tagged).toHaveLength(1);

        const afterCrash = history(); // a start: takes over the stale lock, sweeps
        const mine = afterCrash.filter((r) => !known.has(r.id));
        expect(mine).toHaveLength(1);
        immediate[point] = mine[0]!.outcome;

        if (mine[0]!.outcome !== 'succeeded') await expireClaims();
        const rows = history();
        const ours = rows.filter((r) => !known.has(r.id));
        expect(ours).toEqual([{ id: mine[0]!.id, kind: 'promote', app: 'api', env: 'qa', outcome: 'succeeded' }]);
        expect(rows).toHaveLength(known.size + 1);
        expect(rows.every((r) => r.outcome === 'succeeded')).toBe(true);
        known.add(mine[0]!.id);

        expect(head(repo, 'qa')).toBe(head(repo, 'develop'));
        const newTags = tagNames(repo, 'qa/').filter((n) => !qaTagsBefore.includes(n));
        expect(newTags).toHaveLength(1);
        expect(tagsAt(repo, develop, 'qa/')).toEqual(newTags);
        const message = tagMessage(repo, newTags[0]!);
        expect(message).toContain(`Operation: ${mine[0]!.id}`);
        expect(message).toContain(`Source-Commit: ${develop}`);
        expect(existsSync(`${stateDir}.lock`)).toBe(false);
      },
      SLOW,
    );
  }

  // Regression: the killed process's claim (60 s lease) used to block the next start's sweep;
  // a PGlite folder has one process at a time, so a start now drops stale claims.
  it('resumes at once on the next start, without waiting for the claim lease', () => {
    expect(immediate).toEqual({ 'after-push': 'succeeded', 'after-tag': 'succeeded' });
  });
});
