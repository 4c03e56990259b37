/**
 * The Git helper process: Git runs there, never forked from the server, and an idle server
 * lets it (and its cat-file processes) go, starting a new one on the next request.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { GitHelper } from '../../src/adapters/git-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'git-helper-'));
execFileSync('git', ['init', '--quiet', '--bare', dir]);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pids whose parent is `pid` (from /proc), i.e. the helper's git cat-file processes. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Git helper', () => {
  it('runs Git and keeps a cat-file process, then exits with it after the idle time; the next call starts anew', async () => {
    const helper = new GitHelper(300);
    expect((await helper.run(['rev-parse', '--is-bare-repository'], dir)).trim()).toBe('true');
    expect(await helper.cat('info', 'HEAD', dir)).toBeNull(); // an empty repository: no HEAD commit
    const first = helper.pid();
    const cats = childrenOf(first!);
    expect(cats.length).toBeGreaterThan(0);
    await vi.waitFor(() => expect(alive(first!)).toBe(false), { timeout: 10_000, interval: 50 });
    // Its cat-file processes see their input close and exit too.
    await vi.waitFor(() => expect(cats.filter(alive)).toEqual([]), { timeout: 10_000, interval: 50 });
    // A new helper answers the next request.
    expect((await helper.run(['rev-parse', '--is-bare-repository'], dir)).trim()).toBe('true');
    const second = helper.pid();
    expect(second).not.toBe(first);
    expect(alive(second!)).toBe(true);
  });

  it('does not let the helper go while requests are in flight, and fails only the requests of a helper that died', async () => {
    const helper = new GitHelper(100);
    // Many requests back to back, each sent before the last answered: one helper serves them all.
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const answers = await Promise.all([
        helper.run(['rev-parse', '--git-dir'], dir),
        helper.exec(['cat-file', '-t', 'HEAD'], dir),
      ]);
      expect(answers[0].trim()).toBe('.');
      expect(answers[1].code).not.toBe(0);
      pids.add(helper.pid()!);
    }
    expect(pids.size).toBe(1);
    // Killed outright: its pending request fails with a clear message; the next one works.
    const pid = helper.pid()!;
    const slow = helper.exec(['-c', 'alias.wait=!sleep 5', 'wait'], dir);
    await new Promise((r) => setTimeout(r, 100));
    process.kill(pid, 'SIGKILL');
    await expect(slow).rejects.toThrow('git helper: the helper process exited');
    expect((await helper.run(['rev-parse', '--git-dir'], dir)).trim()).toBe('.');
  });
});
