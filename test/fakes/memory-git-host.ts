/**
 * A GitHost port over an in-memory repository: commits with trees and parents, branches,
 * annotated tags and (optionally) pull requests. Writes are compare-and-swap like the real
 * hosts (ConflictError when a branch moved); `sync` only counts fetches. `pullRequests: true`
 * makes it behave like GitHub (open, merge, close).
 */
import { ConflictError } from '../../src/core/errors.js';
import type { CommitInfo, DeployTag, GitHost, PullRequestInfo, RefsSnapshot } from '../../src/core/ports.js';

interface Commit {
  sha: string;
  tree: string;
  parents: string[];
  message: string;
}

export class MemoryGitHost implements GitHost {
  readonly kind: 'github' | 'git';
  readonly commits = new Map<string, Commit>();
  readonly branches = new Map<string, string>();
  readonly tagList: DeployTag[] = [];
  readonly prs = new Map<number, PullRequestInfo & { base: string; head: string }>();
  readonly writes: string[] = [];
  fetches = 0;
  private seq = 0;

  constructor(options: { pullRequests?: boolean } = {}) {
    this.kind = options.pullRequests ? 'github' : 'git';
    // A plain Git remote has no pull requests: hide the methods as the plain adapter lacks them.
    if (!options.pullRequests)
      Object.assign(this, {
        openPullRequest: undefined,
        getPullRequest: undefined,
        mergePullRequest: undefined,
        closePullRequest: undefined,
      });
  }

  /** Add a commit by hand (a test's history); returns its sha. */
  commit_(tree: string, parents: string[] = [], message = 'commit'): string {
    const sha = `c${String(++this.seq).padStart(39, '0')}`;
    this.commits.set(sha, { sha, tree, parents, message });
    return sha;
  }

  async sync(): Promise<void> {
    this.fetches++;
  }
  async branchHead(branch: string): Promise<string | null> {
    return this.branches.get(branch) ?? null;
  }
  async resolve(ref: string): Promise<string | null> {
    return (
      this.tagList.find((t) => t.name === ref)?.sha ?? [...this.commits.keys()].find((s) => s.startsWith(ref)) ?? null
    );
  }
  async treeOf(sha: string): Promise<string> {
    const c = this.commits.get(sha);
    if (!c) throw new Error(`no commit ${sha}`);
    return c.tree;
  }
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const seen = new Set<string>();
    const todo = [descendant];
    while (todo.length) {
      const sha = todo.pop()!;
      if (sha === ancestor) return true;
      if (seen.has(sha)) continue;
      seen.add(sha);
      todo.push(...(this.commits.get(sha)?.parents ?? []));
    }
    return false;
  }
  async log(base: string, head: string): Promise<CommitInfo[]> {
    const out: CommitInfo[] = [];
    let sha: string | undefined = head;
    while (sha && sha !== base) {
      out.push(await this.commit(sha));
      sha = this.commits.get(sha)?.parents[0];
    }
    return out;
  }
  async commit(sha: string): Promise<CommitInfo> {
    const c = this.commits.get(sha);
    return { sha, subject: c?.message.split('\n')[0] ?? '', author: 'someone', date: '2025-03-01T00:00:00Z' };
  }
  async diffStat() {
    return [];
  }
  async tags(prefix: string): Promise<DeployTag[]> {
    return this.tagList.filter((t) => t.name.startsWith(prefix));
  }
  async readFile(): Promise<string | null> {
    return null;
  }
  async refsSnapshot(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot> {
    const heads: RefsSnapshot['heads'] = new Map();
    for (const b of branches) {
      const sha = this.branches.get(b);
      if (sha) heads.set(b, { commit: await this.commit(sha), tree: await this.treeOf(sha) });
    }
    return { heads, tags: new Map(await Promise.all(tagPrefixes.map(async (p) => [p, await this.tags(p)] as const))) };
  }

  async createCommit(input: { treeOfSha: string; parent: string; message: string }): Promise<string> {
    this.writes.push(`commit on ${input.parent.slice(0, 8)}`);
    return this.commit_(await this.treeOf(input.treeOfSha), [input.parent], input.message);
  }
  async updateBranch(branch: string, newSha: string, expectedOld: string | null): Promise<void> {
    if ((this.branches.get(branch) ?? null) !== expectedOld) throw new ConflictError(`${branch} moved`);
    this.writes.push(`move ${branch}`);
    this.branches.set(branch, newSha);
  }
  async createTag(input: { name: string; sha: string; message: string }): Promise<void> {
    const existing = this.tagList.find((t) => t.name === input.name);
    if (existing?.sha === input.sha) return;
    if (existing) throw new ConflictError(`tag ${input.name} exists`);
    this.writes.push(`tag ${input.name}`);
    this.tagList.unshift({
      name: input.name,
      sha: input.sha,
      message: input.message,
      date: '2025-03-05T12:00:00Z',
      tree: await this.treeOf(input.sha),
    });
  }

  async openPullRequest(input: { base: string; head: string; title: string; body: string }): Promise<PullRequestInfo> {
    const number = this.prs.size + 1;
    const pr = {
      number,
      url: `https://github.example/pr/${number}`,
      state: 'open' as const,
      headSha: this.branches.get(input.head)!,
      base: input.base,
      head: input.head,
    };
    this.prs.set(number, pr);
    this.writes.push(`open pr ${number}`);
    return { ...pr };
  }
  async getPullRequest(num: number): Promise<PullRequestInfo> {
    return { ...this.prs.get(num)! };
  }
  async mergePullRequest(num: number, expectedHeadSha: string): Promise<PullRequestInfo> {
    const pr = this.prs.get(num)!;
    if (pr.headSha !== expectedHeadSha) throw new ConflictError('head moved');
    const base = this.branches.get(pr.base)!;
    const mergeSha = this.commit_(await this.treeOf(pr.headSha), [base, pr.headSha], `Merge #${num}`);
    this.branches.set(pr.base, mergeSha);
    Object.assign(pr, { state: 'merged', mergeSha });
    this.writes.push(`merge pr ${num}`);
    return { ...pr };
  }
  async closePullRequest(num: number): Promise<void> {
    const pr = this.prs.get(num);
    if (pr) pr.state = 'closed';
  }
}
