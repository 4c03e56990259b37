/**
 * GitHost for any plain Git remote (URL or local path): reads from the mirror, writes by
 * creating objects in the mirror and pushing them. Each write is one `git push --atomic` whose
 * `--force-with-lease=<ref>:<old>` names the value the remote must still hold (empty: the ref
 * must not exist), so the compare-and-swap is the remote's own; a branch that moved under us
 * is refused and reported as a conflict. Branches only ever move forward.
 */
import { ConflictError, UpstreamError } from '../core/errors.js';
import type { GitHost } from '../core/ports.js';
import { assertBranch, assertSha, assertTag, firstLine, type GitMirror, MirroredHost } from './git-mirror.js';

export class PlainGitHost extends MirroredHost implements GitHost {
  readonly kind = 'git' as const;

  constructor(readonly mirror: GitMirror) {
    super(mirror);
  }

  async createCommit(input: { treeOfSha: string; parent: string; message: string }): Promise<string> {
    const tree = await this.mirror.treeOf(input.treeOfSha);
    return this.mirror.serial(async () => {
      const out = await this.mirror.raw(['commit-tree', tree, '-p', assertSha(input.parent), '-m', input.message]);
      return out.trim();
    });
  }

  async updateBranch(branch: string, newSha: string, expectedOld: string | null): Promise<void> {
    assertBranch(branch);
    assertSha(newSha);
    if (expectedOld !== null) assertSha(expectedOld);
    await this.mirror.serial(async () => {
      // Never a forced move: the new commit must build on the old one (Git would refuse a
      // non-fast-forward push; the lease below would not, so we look first).
      if (expectedOld && expectedOld !== newSha && !(await this.mirror.isAncestor(expectedOld, newSha))) {
        throw new ConflictError(
          `${branch} would not move forward from ${short(expectedOld)} to ${short(newSha)}; nothing was pushed`,
        );
      }
      // One atomic push whose lease is the compare-and-swap: the remote ref must still be
      // `expectedOld` (or absent), checked by the remote as it writes.
      const ref = `refs/heads/${branch}`;
      const res = await this.push([`--force-with-lease=${ref}:${expectedOld ?? ''}`, `${newSha}:${ref}`]);
      if (res.code !== 0) {
        const text = `${res.stderr}\n${res.stdout}`;
        if (/stale info|non-fast-forward|fetch first|rejected|already exists/i.test(text)) {
          const remote = await this.remoteHead(branch).catch(() => undefined);
          if (remote !== undefined && remote !== expectedOld) {
            throw new ConflictError(
              `${branch} moved from ${short(expectedOld)} to ${short(remote)} while we worked; nothing was pushed`,
            );
          }
          throw new ConflictError(`${branch} moved while we worked; the push was refused (${firstLine(text)})`);
        } else {
          throw new UpstreamError('git', `push to ${branch} failed: ${firstLine(text)}`);
        }
      }
      await this.mirror.raw(['update-ref', ref, newSha]);
    });
  }

  async createTag(input: { name: string; sha: string; message: string }): Promise<void> {
    const name = assertTag(input.name);
    assertSha(input.sha);
    await this.mirror.serial(async () => {
      const local = await this.mirror.tagCommit(name);
      if (local && local !== input.sha) await this.mirror.raw(['tag', '-d', name]);
      if (local !== input.sha) await this.mirror.raw(['tag', '-a', name, input.sha, '-m', input.message]);
      // The lease with an empty value: the tag must not exist upstream yet.
      const ref = `refs/tags/${name}`;
      const res = await this.push([`--force-with-lease=${ref}:`, `${ref}:${ref}`]);
      if (res.code === 0) return;
      const text = `${res.stderr}\n${res.stdout}`;
      if (/stale info|already exists|rejected/i.test(text)) {
        // Already there: ours from before a crash (same commit) is done; another is a conflict.
        const existing = await this.remoteTagTarget(name);
        if (existing === input.sha) return;
        if (existing) throw new ConflictError(`tag ${name} already exists on ${short(existing)}`);
        throw new ConflictError(`tag ${name} was created by someone else meanwhile`);
      }
      throw new UpstreamError('git', `push of tag ${name} failed: ${firstLine(text)}`);
    });
  }

  /** `git push --atomic --porcelain origin <options and refspecs>`, its exit code returned. */
  private push(args: string[]) {
    return this.mirror.exec(['push', '--quiet', '--atomic', '--porcelain', 'origin', ...args]);
  }

  private async remoteHead(branch: string): Promise<string | null> {
    const out = await this.lsRemote(`refs/heads/${branch}`);
    return out.get(`refs/heads/${branch}`) ?? null;
  }

  private async remoteTagTarget(name: string): Promise<string | null> {
    const out = await this.lsRemote(`refs/tags/${name}`);
    return out.get(`refs/tags/${name}^{}`) ?? out.get(`refs/tags/${name}`) ?? null;
  }

  private async lsRemote(ref: string): Promise<Map<string, string>> {
    try {
      const out = await this.mirror.raw(['ls-remote', 'origin', ref, `${ref}^{}`]);
      const refs = new Map<string, string>();
      for (const line of out.split('\n')) {
        const [sha, name] = line.split('\t');
        if (sha && name) refs.set(name, sha);
      }
      return refs;
    } catch (err) {
      throw new UpstreamError('git', `cannot reach the remote: ${firstLine(err)}`, { cause: err });
    }
  }
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 8) : '(none)';
}
