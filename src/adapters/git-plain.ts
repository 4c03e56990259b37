/**
 * GitHost for any plain Git remote (URL or local path): reads from the mirror, writes by
 * creating objects in the mirror and pushing them. Pushes never force: a branch that moved
 * under us makes the push non-fast-forward, which Git refuses and we report as a conflict.
 */
import { ConflictError, UpstreamError } from '../core/errors.js';
import type { GitHost } from '../core/ports.js';
import { type GitMirror, MirroredHost, assertBranch, assertSha, assertTag, firstLine } from './git-mirror.js';

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
    await this.mirror.serial(async () => {
      const remote = await this.remoteHead(branch);
      if (remote !== expectedOld) {
        throw new ConflictError(
          `${branch} moved from ${short(expectedOld)} to ${short(remote)} while we worked; nothing was pushed`,
        );
      }
      try {
        await this.mirror.raw(['push', '--quiet', '--porcelain', 'origin', `${newSha}:refs/heads/${branch}`]);
      } catch (err) {
        const text = firstLine(err);
        if (/non-fast-forward|fetch first|rejected|stale info/i.test(String(err))) {
          throw new ConflictError(`${branch} moved while we worked; the push was refused (${text})`, { cause: err });
        }
        throw new UpstreamError('git', `push to ${branch} failed: ${text}`, { cause: err });
      }
      await this.mirror.raw(['update-ref', `refs/heads/${branch}`, newSha]);
    });
  }

  async createTag(input: { name: string; sha: string; message: string }): Promise<void> {
    const name = assertTag(input.name);
    assertSha(input.sha);
    await this.mirror.serial(async () => {
      const existing = await this.remoteTagTarget(name);
      if (existing) {
        if (existing === input.sha) return;
        throw new ConflictError(`tag ${name} already exists on ${short(existing)}`);
      }
      const local = await this.mirror.raw(['rev-parse', '--verify', '--quiet', `refs/tags/${name}^{commit}`]).catch(() => '');
      if (local.trim() && local.trim() !== input.sha) await this.mirror.raw(['tag', '-d', name]);
      if (local.trim() !== input.sha) await this.mirror.raw(['tag', '-a', name, input.sha, '-m', input.message]);
      try {
        await this.mirror.raw(['push', '--quiet', 'origin', `refs/tags/${name}:refs/tags/${name}`]);
      } catch (err) {
        if (/already exists|rejected/i.test(String(err))) {
          throw new ConflictError(`tag ${name} was created by someone else meanwhile`, { cause: err });
        }
        throw new UpstreamError('git', `push of tag ${name} failed: ${firstLine(err)}`, { cause: err });
      }
    });
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
