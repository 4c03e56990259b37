/**
 * GitHost for any plain Git remote (URL or local path): reads from the mirror, writes by
 * creating objects in the mirror and pushing them. Each write is one `git push --atomic` whose
 * `--force-with-lease=<ref>:<old>` names the value the remote must still hold (empty: the ref
 * must not exist), so the compare-and-swap is the remote's own; a branch that moved under us
 * is refused and reported as a conflict. Branches only ever move forward. A promotion's branch
 * and its deploy tag go in one push (updateBranchWithTag).
 */
import { ConflictError, UpstreamError } from '../core/errors.js';
import type { GitHost } from '../core/ports.js';
import { assertBranch, assertSha, assertTag, firstLine, type GitMirror, MirroredHost } from './git-mirror.js';

export class PlainGitHost extends MirroredHost implements GitHost {
  readonly kind = 'git' as const;

  /** Tags this process pushed together with their branch, until the tag step asks for them. */
  private readonly pushedTags = new Map<string, string>();

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
    await this.moveBranch(branch, newSha, expectedOld, null);
  }

  async updateBranchWithTag(
    branch: string,
    newSha: string,
    expectedOld: string | null,
    tag: { name: string; message: string },
  ): Promise<void> {
    await this.moveBranch(branch, newSha, expectedOld, tag);
  }

  private async moveBranch(
    branch: string,
    newSha: string,
    expectedOld: string | null,
    tag: { name: string; message: string } | null,
  ): Promise<void> {
    assertBranch(branch);
    assertSha(newSha);
    if (expectedOld !== null) assertSha(expectedOld);
    if (tag) assertTag(tag.name);
    await this.mirror.serial(async () => {
      // Never a forced move: the new commit must build on the old one (Git would refuse a
      // non-fast-forward push; the lease below would not, so we look first).
      if (expectedOld && expectedOld !== newSha && !(await this.mirror.isAncestor(expectedOld, newSha))) {
        throw new ConflictError(
          `${branch} would not move forward from ${short(expectedOld)} to ${short(newSha)}; nothing was pushed`,
        );
      }
      // One atomic push whose lease is the compare-and-swap: the remote ref must still be
      // `expectedOld` (or absent), checked by the remote as it writes. With a deploy tag, the
      // tag (which must not exist upstream yet) goes in the same push: both refs or neither.
      const ref = `refs/heads/${branch}`;
      const refspecs = [`--force-with-lease=${ref}:${expectedOld ?? ''}`, `${newSha}:${ref}`];
      if (tag) {
        await this.localTag(tag.name, newSha, tag.message);
        const tagRef = `refs/tags/${tag.name}`;
        refspecs.push(`--force-with-lease=${tagRef}:`, `${tagRef}:${tagRef}`);
      }
      const res = await this.push(refspecs);
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
      if (expectedOld !== newSha && pushedRefStatus(res.stdout, ref) === '=') {
        // The remote already held newSha. Git checks a lease only on the refs it updates, so the
        // branch's compare-and-swap was never made, and the deploy tag went alone: someone else
        // moved the branch to this very version, and the tag is not ours to leave on it.
        const undone = tag ? await this.takeBackTag(tag.name) : null;
        throw new ConflictError(
          `${branch} already runs ${short(newSha)}: it was moved there meanwhile by someone else; ` +
            (tag ? (undone ?? `the deploy tag ${tag.name} pushed with it was taken back`) : 'nothing was pushed'),
        );
      }
      await this.mirror.raw(['update-ref', ref, newSha]);
      if (tag) this.pushedTags.set(tag.name, newSha);
    });
  }

  /** Delete a tag this process just pushed, only while it is still ours; null when done, else why not. */
  private async takeBackTag(name: string): Promise<string | null> {
    const ref = `refs/tags/${name}`;
    try {
      const object = (await this.mirror.raw(['rev-parse', '--verify', ref])).trim();
      const res = await this.push([`--force-with-lease=${ref}:${object}`, `:${ref}`]);
      await this.mirror.raw(['tag', '-d', name]);
      return res.code === 0
        ? null
        : `the deploy tag ${name} pushed with it could not be taken back (${firstLine(`${res.stderr}\n${res.stdout}`)})`;
    } catch (err) {
      return `the deploy tag ${name} pushed with it could not be taken back (${firstLine(err)})`;
    }
  }

  /** The annotated tag in the mirror, made again when it points elsewhere. */
  private async localTag(name: string, sha: string, message: string): Promise<void> {
    const local = await this.mirror.tagCommit(name);
    if (local && local !== sha) await this.mirror.raw(['tag', '-d', name]);
    if (local !== sha) await this.mirror.raw(['tag', '-a', name, sha, '-m', message]);
  }

  async createTag(input: { name: string; sha: string; message: string }): Promise<void> {
    const name = assertTag(input.name);
    assertSha(input.sha);
    await this.mirror.serial(async () => {
      // Pushed with its branch moments ago by this process (updateBranchWithTag): nothing to do.
      if (this.pushedTags.get(name) === input.sha) {
        this.pushedTags.delete(name);
        return;
      }
      await this.localTag(name, input.sha, input.message);
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

  /**
   * `git push --atomic --porcelain origin <options and refspecs>`, its exit code returned. Not
   * `--quiet`: that drops the porcelain lines, which say what became of each ref.
   */
  private push(args: string[]) {
    return this.mirror.exec(['push', '--atomic', '--porcelain', 'origin', ...args]);
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

/**
 * What `git push --porcelain` says became of one ref: its flag (` ` pushed, `=` already there,
 * `!` refused, ...), from lines `<flag>\t<from>:<to>\t<summary>`; null when it says nothing of it.
 */
function pushedRefStatus(stdout: string, ref: string): string | null {
  for (const line of stdout.split('\n')) {
    const [flag, refs] = line.split('\t');
    if (flag !== undefined && flag.length === 1 && refs?.endsWith(`:${ref}`)) return flag;
  }
  return null;
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 8) : '(none)';
}
