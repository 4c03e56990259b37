/**
 * Reads of a GitHub repository that are as fresh as a fetch without waiting for one (ADR 0004).
 *
 * `sync()` asks GitHub, in one GraphQL request, for the environment branches' heads (each with
 * its commit and tree), the comparison of each environment branch with the one before it, and
 * how many tags the repository has; beside it the mirror says what it holds. When the tag count
 * differs, only a fetch can bring the tags, and `sync()` waits for one. Otherwise the mirror's
 * tags are GitHub's, and a branch that moved upstream is answered from GitHub's answer; the mirror
 * fetches when a read the answer does not cover needs it, or after Conveyor's own write, behind
 * the reply. Every read is as fresh as the `sync()` before it:
 *
 * - heads of the environment branches: GitHub's answer, or the mirror where they agreed;
 * - commits, trees and ancestry: Git objects never change, so the mirror answers for those it
 *   holds; a commit only GitHub's answer named is answered from it (its tree, its comparison with
 *   the environment before) or waits for the fetch that brings it;
 * - anything GitHub's answer does not cover (another branch, a commit the mirror does not have
 *   yet) waits for a fetch started after the `sync()`.
 *
 * Conveyor's own writes (a branch moved, a tag made) are known as they succeed and the mirror
 * fetches them behind the answer. The first `sync()` of a process, a GitHub without GraphQL (or
 * without these fields: an older Enterprise Server) and a GraphQL read that fails fall back to
 * the fetch, as before.
 */
import type { BranchHead, CommitInfo, DeployTag, FileStat, RefsSnapshot } from '../core/ports.js';
import type { GitMirror, GitReads } from './git-mirror.js';

/** How many of the newest commits between two environments one read lists. */
const LISTED = 50;
/** Commits and comparisons learned from GitHub, kept by sha (facts about Git objects never change). */
const KEPT = 256;

export interface LiveReadsOptions {
  mirror: GitMirror;
  owner: string;
  repo: string;
  /** The environment branches in promotion order (each compared with the one before it). */
  branches: string[];
  /** Runs a GraphQL query (Octokit's `graphql`). */
  graphql: (query: string, variables: Record<string, unknown>) => Promise<unknown>;
}

interface Learned {
  /** Its commit and tree, when GitHub's answer (or this process's write) said them. */
  head?: BranchHead;
  /** The clock when GitHub's answer named it: a fetch started at or after it brings it. */
  at: number;
}

interface Comparison {
  /** Commits of `base` not in `head` (0: `base` is an ancestor of `head`). */
  behind: number;
  /** The commits of `head` not in `base`, newest first; null when GitHub listed only some. */
  commits: CommitInfo[] | null;
}

type Read = { repository: Record<string, unknown> | null } | null;

export class GitHubLiveReads implements GitReads {
  /** Told the repository's node id whenever GitHub's answer carries it. */
  onRepositoryId: ((id: string) => void) | undefined;
  private readonly mirror: GitMirror;
  private readonly branches: string[];
  private readonly query: string;
  /** Events in order: each sync, each answer from GitHub, each write. A fetch covers what came before it started. */
  private clock = 0;
  /** The start clock of the newest fetch that completed. */
  private fetched = 0;
  private running: { at: number; done: Promise<void> } | null = null;
  /** The clock of the last `sync()`: reads GitHub's answer does not cover need a fetch started since. */
  private synced = 0;
  /** GitHub's answer of the last sync() vouches for the environment branches and the tags. */
  private vouched = false;
  /** The environment branches' heads as GitHub's answer of the last sync() gave them (where the mirror agreed, too). */
  private heads = new Map<string, string>();
  /** Environment branches that moved upstream since the mirror's view, as GitHub answered (null: gone). */
  private moved = new Map<string, { sha: string | null; at: number }>();
  /** The clock of this process's newest tag write: tag reads need a fetch started since. */
  private taggedAt = 0;
  private readonly learned = new Map<string, Learned>();
  /** The newest sighting of a commit dropped from `learned` before a fetch brought it. */
  private forgotten = 0;
  private readonly comparisons = new Map<string, Comparison>();
  /** Tag prefixes readers asked for: the mirror's answer for them is read again after each fetch, before anyone asks. */
  private readonly prefixes = new Set<string>();
  private warming: Promise<unknown> | null = null;
  /** False once this GitHub cannot answer the read (no GraphQL, or a schema without these fields). */
  private live = true;

  constructor(private readonly options: LiveReadsOptions) {
    this.mirror = options.mirror;
    this.branches = [...new Set(options.branches)];
    this.query = liveQuery(this.branches);
  }

  /** Resolves once no fetch of this reader is under way (tests and benches wait for the mirror). */
  async settled(): Promise<void> {
    while (this.running || this.warming) {
      await this.running?.done.catch(() => undefined);
      await this.warming;
    }
  }

  async sync(options?: { fetch?: boolean }): Promise<void> {
    const at = ++this.clock;
    this.synced = at;
    this.vouched = false;
    // The first read of a process, a GitHub that cannot answer it, or a caller who asks for the
    // mirror itself: the fetch is the read.
    if (options?.fetch || !this.live || this.fetched === 0) return this.fetchSince(at);
    // A fetch under way (behind a write) lands first: the mirror then holds what was written.
    if (this.running) await this.running.done.catch(() => undefined);
    let read: Read;
    let local: { heads: Map<string, string>; tagCount: number };
    try {
      [read, local] = await Promise.all([
        this.options.graphql(this.query, this.variables()) as Promise<Read>,
        this.mirror.refSummary(this.branches),
      ]);
    } catch (err) {
      if (cannotAnswer(err)) this.live = false;
      return this.fetchSince(at); // as before: the fetch is the read, and its failure the error
    }
    const seen = ++this.clock;
    const repo = read?.repository;
    if (!repo) return this.fetchSince(at); // renamed or gone: the fetch says which
    if (typeof repo.id === 'string') this.onRepositoryId?.(repo.id);
    const heads = this.learn(repo, seen);
    // A newer sync (or a merge) began while this one read: its state is the newer one.
    if (this.synced !== at) return;
    // An answer that is not what was asked (a head that is no commit): the fetch instead.
    if (!heads) return this.fetchSince(seen);
    const tags = (repo.tags as { totalCount?: unknown } | null)?.totalCount;
    if (tags !== local.tagCount) return this.fetchSince(seen); // tags changed upstream: only a fetch brings them
    // Writes of this process since the sync began are newer than GitHub's answer: kept.
    this.moved = new Map([...this.moved].filter(([, m]) => m.at > at));
    for (const [branch, m] of this.moved) if (m.sha) heads.set(branch, m.sha);
    for (const branch of this.branches) {
      if (this.moved.has(branch)) continue;
      const sha = heads.get(branch) ?? null;
      if (sha !== (local.heads.get(branch) ?? null)) this.moved.set(branch, { sha, at: seen });
    }
    this.heads = heads;
    this.vouched = true;
    // No fetch yet: a read the answer does not cover starts one, and so does a write (which
    // most plans end in); meanwhile nothing competes with the operation for the machine.
  }

  /**
   * This process moved `branch` to `sha` on GitHub (its compare-and-swap succeeded), with a tag
   * when `tagged`. The mirror fetches behind the answer.
   */
  wroteBranch(branch: string, sha: string, tagged = false): void {
    const at = ++this.clock;
    this.moved.set(branch, { sha, at });
    this.heads.set(branch, sha);
    if (tagged) this.taggedAt = at;
    this.fetchSince(at).catch(() => undefined);
  }

  /** This process made a tag on GitHub: tag reads wait for the fetch that brings it. */
  wroteTag(): void {
    this.taggedAt = ++this.clock;
    this.fetchSince(this.taggedAt).catch(() => undefined);
  }

  /**
   * This process made a commit on GitHub (a commit, a merge): not in the mirror until the next
   * fetch. With its tree and message when the write said them.
   */
  wroteCommit(sha: string, made?: { tree: string; message: string; author: string }): void {
    const at = ++this.clock;
    const head = made && {
      commit: { sha, subject: subjectOf(made.message), author: made.author, date: new Date().toISOString() },
      tree: made.tree,
    };
    this.keep(this.learned, sha, head ? { head, at } : { at });
  }

  /**
   * A pull request was merged on GitHub: its base branch moved to `sha` (which branch, GitHub's
   * answer did not say), so branch reads wait for the fetch that brings it.
   */
  mergedUpstream(sha: string): void {
    this.wroteCommit(sha);
    this.moved.clear();
    this.vouched = false;
    this.synced = this.clock;
    this.fetchSince(this.clock).catch(() => undefined);
  }

  async branchHead(branch: string): Promise<string | null> {
    const moved = this.moved.get(branch);
    if (moved) return moved.sha;
    if (this.vouched && this.branches.includes(branch)) return this.heads.get(branch) ?? null;
    await this.refsCovered(branch);
    return this.mirror.branchHead(branch);
  }

  async refsSnapshot(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot> {
    if (tagPrefixes.length > 0) await this.tagsCovered();
    for (const p of tagPrefixes) if (this.prefixes.size < 32) this.prefixes.add(p);
    const fromMirror = branches.filter((b) => !this.moved.has(b));
    for (const b of fromMirror) await this.refsCovered(b);
    const snapshot = await this.mirror.refsSnapshot(fromMirror, tagPrefixes);
    const heads = new Map<string, BranchHead>();
    for (const branch of branches) {
      const moved = this.moved.get(branch);
      if (!moved) {
        const head = snapshot.heads.get(branch);
        if (head) heads.set(branch, head);
      } else if (moved.sha) {
        heads.set(branch, this.learned.get(moved.sha)?.head ?? (await this.headFromMirror(moved.sha)));
      }
    }
    return { heads, tags: snapshot.tags };
  }

  async tags(prefix: string): Promise<DeployTag[]> {
    await this.tagsCovered();
    return this.mirror.tags(prefix);
  }

  async resolve(ref: string): Promise<string | null> {
    if (this.learned.get(ref)?.head) return ref;
    const since = Math.max(this.synced, this.taggedAt);
    // A tag name decides what ships (`--version`): GitHub's answer vouches only for how many tags
    // there are, not where each points (a tag moved upstream keeps the count), so the mirror
    // answers for names once a fetch started after the sync.
    if (!/^[0-9a-f]{4,40}$/.test(ref)) await this.fetchSince(since);
    const found = await this.fromMirror([ref], () => this.mirror.resolve(ref));
    if (found !== null || this.fetched >= since) return found;
    await this.fetchSince(since); // a (short) sha made upstream since the mirror's fetch
    return this.mirror.resolve(ref);
  }

  async treeOf(sha: string): Promise<string> {
    const known = this.learned.get(sha)?.head;
    if (known) return known.tree;
    return this.fromMirror([sha], () => this.mirror.treeOf(sha));
  }

  async commit(sha: string): Promise<CommitInfo> {
    const known = this.learned.get(sha)?.head;
    if (known) return known.commit;
    return this.fromMirror([sha], () => this.mirror.commit(sha));
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    const compared = this.comparisons.get(`${ancestor}..${descendant}`);
    if (compared) return compared.behind === 0;
    return this.fromMirror([ancestor, descendant], () => this.mirror.isAncestor(ancestor, descendant));
  }

  async log(base: string | null, head: string, max = 500): Promise<CommitInfo[]> {
    const compared = base ? this.comparisons.get(`${base}..${head}`) : undefined;
    if (compared?.commits) return compared.commits.slice(0, max);
    return this.fromMirror(base ? [base, head] : [head], () => this.mirror.log(base, head, max));
  }

  async diffStat(base: string, head: string): Promise<FileStat[]> {
    return this.fromMirror([base, head], () => this.mirror.diffStat(base, head));
  }

  async readFile(sha: string, path: string): Promise<string | null> {
    return this.fromMirror([sha], () => this.mirror.readFile(sha, path));
  }

  /** A read of the mirror once it holds these commits: those only GitHub's answer named wait for the fetch that brings them. */
  private async fromMirror<T>(shas: string[], read: () => Promise<T>): Promise<T> {
    const at = Math.max(0, ...shas.map((s) => this.learned.get(s)?.at ?? this.forgotten));
    if (at > this.fetched) await this.fetchSince(at);
    return read();
  }

  /** The mirror's head of `branch` is as fresh as the last sync(). */
  private async refsCovered(branch: string): Promise<void> {
    if (this.vouched && this.branches.includes(branch)) return;
    await this.fetchSince(this.synced);
  }

  /** The mirror's tags are as fresh as the last sync() and hold this process's own. */
  private async tagsCovered(): Promise<void> {
    const need = Math.max(this.vouched ? 0 : this.synced, this.taggedAt);
    if (need > this.fetched) await this.fetchSince(need);
  }

  /** A head this process wrote (its commit is in the mirror, or was learned). */
  private headFromMirror(sha: string): Promise<BranchHead> {
    return this.fromMirror([sha], async () => {
      const [commit, tree] = await Promise.all([this.mirror.commit(sha), this.mirror.treeOf(sha)]);
      return { commit, tree };
    });
  }

  /** A fetch started at or after clock `at` has completed (one is started when none is under way since). */
  private fetchSince(at: number): Promise<void> {
    if (this.fetched >= at) return Promise.resolve();
    if (this.running && this.running.at >= at) return this.running.done;
    const started = this.clock;
    const done = this.mirror.sync().then(() => {
      if (started <= this.fetched) return;
      this.fetched = started;
      for (const [branch, m] of this.moved) if (m.at <= started) this.moved.delete(branch);
      for (const l of this.learned.values()) if (l.at <= started) l.at = 0; // in the mirror now
      this.warm();
    });
    const entry = { at: started, done };
    this.running = entry;
    const over = () => {
      if (this.running === entry) this.running = null;
    };
    done.then(over, over);
    return done;
  }

  /** What the next sync() and plan read of the mirror, read while nobody waits (its caches hold until the next fetch). */
  private warm(): void {
    const warming = Promise.all([
      this.mirror.refSummary(this.branches),
      this.prefixes.size > 0 ? this.mirror.refsSnapshot(this.branches, [...this.prefixes]) : null,
    ]).catch(() => undefined);
    this.warming = warming;
    warming.then(() => {
      if (this.warming === warming) this.warming = null;
    });
  }

  private variables(): Record<string, unknown> {
    const vars: Record<string, unknown> = { owner: this.options.owner, name: this.options.repo };
    this.branches.forEach((b, i) => {
      vars[`b${i}`] = `refs/heads/${b}`;
      if (i < this.branches.length - 1) vars[`s${i}`] = b;
    });
    return vars;
  }

  /**
   * Keeps what GitHub's answer says of each head and each comparison; returns the heads by
   * branch (a branch that does not exist has none), or null when a head is not a commit.
   */
  private learn(repo: Record<string, unknown>, at: number): Map<string, string> | null {
    const heads = new Map<string, string>();
    let understood = true;
    this.branches.forEach((branch, i) => {
      const ref = repo[`h${i}`] as RefAnswer | null | undefined;
      if (ref === null) return; // no such branch
      const head = commitOf(ref?.target);
      if (!head) {
        understood = false;
        return;
      }
      heads.set(branch, head.commit.sha);
      this.learnCommit(head, at);
      // The comparison names the two commits it compared (a branch may move between two fields).
      const compared = ref?.compare;
      const base = compared?.baseTarget?.oid;
      const tip = compared?.headTarget?.oid;
      if (!compared || typeof base !== 'string' || typeof tip !== 'string' || typeof compared.behindBy !== 'number')
        return;
      const nodes = compared.commits?.nodes ?? [];
      const listed = nodes.map(commitOf).filter((c): c is BranchHead => c !== null);
      for (const c of listed) this.learnCommit(c, at);
      const complete = compared.commits?.totalCount === listed.length && compared.aheadBy === listed.length;
      this.keep(this.comparisons, `${base}..${tip}`, {
        behind: compared.behindBy,
        commits: complete ? listed.map((c) => c.commit).reverse() : null,
      });
    });
    return understood ? heads : null;
  }

  /** A commit GitHub's answer described: kept (as the newest) from its first sighting not yet fetched. */
  private learnCommit(head: BranchHead, at: number): void {
    const known = this.learned.get(head.commit.sha);
    this.keep(this.learned, head.commit.sha, { head, at: known ? known.at : at });
  }

  private keep<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size <= KEPT) return;
    const [oldest, dropped] = map.entries().next().value!;
    map.delete(oldest);
    // A commit only GitHub's answer named, forgotten before a fetch brought it: reads of commits
    // not kept wait for a fetch started after it.
    const at = (dropped as Partial<Learned> | undefined)?.at;
    if (map === (this.learned as Map<string, unknown>) && at && at > this.fetched)
      this.forgotten = Math.max(this.forgotten, at);
  }
}

interface CommitAnswer {
  oid?: unknown;
  message?: unknown;
  author?: { name?: unknown; date?: unknown } | null;
  tree?: { oid?: unknown } | null;
}

interface RefAnswer {
  target?: CommitAnswer | null;
  compare?: {
    baseTarget?: { oid?: unknown } | null;
    headTarget?: { oid?: unknown } | null;
    status?: unknown;
    aheadBy?: unknown;
    behindBy?: unknown;
    commits?: { totalCount?: unknown; nodes?: (CommitAnswer | null)[] | null } | null;
  } | null;
}

/** A commit of GitHub's answer as the mirror would describe it, or null when the answer is not a commit. */
function commitOf(c: CommitAnswer | null | undefined): BranchHead | null {
  if (!c || typeof c.oid !== 'string' || typeof c.tree?.oid !== 'string') return null;
  const message = typeof c.message === 'string' ? c.message : '';
  return {
    commit: {
      sha: c.oid,
      subject: subjectOf(message),
      author: typeof c.author?.name === 'string' ? c.author.name : '',
      date: typeof c.author?.date === 'string' ? c.author.date : '',
    },
    tree: c.tree.oid,
  };
}

/** Git's subject of a message (`%s`): its first paragraph on one line. */
function subjectOf(message: string): string {
  return (message.trim().split(/\n\s*\n/)[0] ?? '').replace(/\s*\n\s*/g, ' ');
}

/** The one GraphQL read: each branch's head, its comparison with the branch before it, the tag count. */
function liveQuery(branches: string[]): string {
  // $sN: a branch's short name, for the comparison of the branch after it (the last has none).
  const vars = branches.flatMap((_, i) => [`$b${i}: String!`, ...(i < branches.length - 1 ? [`$s${i}: String!`] : [])]);
  const refs = branches.map((_, i) => {
    const compare =
      i === 0
        ? ''
        : ` compare(headRef: $s${i - 1}) { baseTarget { oid } headTarget { oid } status aheadBy behindBy commits(last: ${LISTED}) { totalCount nodes { ...C } } }`;
    return `h${i}: ref(qualifiedName: $b${i}) { target { oid ...C }${compare} }`;
  });
  return [
    `query ConveyorLiveRead($owner: String!, $name: String!, ${vars.join(', ')}) {`,
    '  repository(owner: $owner, name: $name) {',
    '    id',
    '    tags: refs(refPrefix: "refs/tags/", first: 1) { totalCount }',
    ...refs.map((r) => `    ${r}`),
    '  }',
    '}',
    'fragment C on Commit { oid message author { name email date } committedDate tree { oid } }',
  ].join('\n');
}

/** GitHub cannot answer this read at all: no GraphQL endpoint, or a schema without these fields. */
function cannotAnswer(err: unknown): boolean {
  if ((err as { status?: unknown } | null)?.status === 404) return true;
  const errors = (err as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return false;
  return errors.some((e) => {
    const x = (e ?? {}) as { message?: unknown; type?: unknown; extensions?: { code?: unknown } };
    const type = x.type ?? x.extensions?.code;
    return (
      type === 'undefinedField' ||
      type === 'undefinedType' ||
      /doesn't exist on type|cannot query field|does not model/i.test(String(x.message ?? ''))
    );
  });
}
