/** A repository host (GitHub, plain Git): reads from a local mirror, compare-and-swap writes. */
export interface CommitInfo {
  sha: string;
  subject: string;
  author: string;
  /** ISO 8601 */
  date: string;
}

export interface DeployTag {
  name: string;
  /** The commit the tag points to. */
  sha: string;
  message: string;
  /** ISO 8601 */
  date: string;
  /** The tree of the tagged commit (the version), when the reader knows it. */
  tree?: string;
}

export interface FileStat {
  path: string;
  added: number;
  deleted: number;
}

export type ChecksState = 'success' | 'pending' | 'failure' | 'none';

export interface PullRequestInfo {
  number: number;
  url: string;
  state: 'open' | 'closed' | 'merged';
  headSha: string;
  mergeSha?: string;
}

export interface BranchHead {
  commit: CommitInfo;
  tree: string;
}

export interface RefsSnapshot {
  /** By branch name; absent when the branch does not exist. */
  heads: Map<string, BranchHead>;
  /** By prefix, newest first (as `tags`). */
  tags: Map<string, DeployTag[]>;
}

/**
 * A repository host. Reads come from a local mirror (on GitHub, a plan's sync is one GraphQL
 * read, see sync()); writes go through the
 * host's API (GitHub) or by push (plain Git). Every write is compare-and-swap: a branch is
 * only moved from the sha the caller saw, otherwise ConflictError. Never a force-push.
 */
export interface GitHost {
  readonly kind: 'github' | 'git';
  /**
   * Bring reads up to the remote's state now. A host may do it with one cheaper read of the
   * remote than a fetch (GitHub: one GraphQL read, src/adapters/github-live.ts); `fetch` asks for
   * the mirror's fetch itself (background work, and readers with a freshness window, which need
   * not spend API rate limit).
   */
  sync(options?: { fetch?: boolean }): Promise<void>;
  /** Head sha of a branch in the mirror, or null when the branch does not exist. */
  branchHead(branch: string): Promise<string | null>;
  /** Resolve a tag name or (abbreviated) sha to a full commit sha, or null. */
  resolve(ref: string): Promise<string | null>;
  treeOf(sha: string): Promise<string>;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** Commits reachable from `head` but not from `base`, newest first. */
  log(base: string, head: string, max?: number): Promise<CommitInfo[]>;
  commit(sha: string): Promise<CommitInfo>;
  /** File changes between two commits' trees. */
  diffStat(base: string, head: string): Promise<FileStat[]>;
  /** Annotated tags matching a prefix (e.g. "prod/"), newest first. */
  tags(prefix: string): Promise<DeployTag[]>;
  /** Read a file at a commit, or null. */
  readFile(sha: string, path: string): Promise<string | null>;
  /**
   * Several branches' heads (with their commit and tree) and several prefixes' deploy tags in
   * one read of the mirror: what `list` needs of an app, without a Git process per question.
   */
  refsSnapshot(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot>;

  /** Create a commit with `treeOfSha`'s tree on top of `parent`; returns the new sha. */
  createCommit(input: { treeOfSha: string; parent: string; message: string }): Promise<string>;
  /** Move (or create, when expectedOld is null) a branch; ConflictError when it moved. */
  updateBranch(branch: string, newSha: string, expectedOld: string | null): Promise<void>;
  /**
   * Create an annotated tag; succeeds silently when the same tag already points at sha. `fresh`:
   * the name was chosen moments ago from a mirror just fetched (not a resume), so the host need
   * not look for the tag before writing it; one that exists after all is still refused by the
   * write and looked at then.
   */
  createTag(input: { name: string; sha: string; message: string; fresh?: boolean }): Promise<void>;
  /**
   * Move a branch and create its deploy tag in one write, where the host can: a later createTag
   * of the same tag is then free. Same refusals as updateBranch; the branch moves only as
   * updateBranch would move it. Plain Git: one atomic push (both or neither). GitHub: the tag's
   * object, then one atomic `updateRefs` (both or neither); without updateRefs, the tag's ref
   * once the branch moved. A tag not written then is left to createTag, as after a crash.
   */
  updateBranchWithTag?(
    branch: string,
    newSha: string,
    expectedOld: string | null,
    tag: { name: string; message: string },
  ): Promise<void>;

  /** Pull requests: only on hosts that have them (GitHub). */
  openPullRequest?(input: { base: string; head: string; title: string; body: string }): Promise<PullRequestInfo>;
  getPullRequest?(num: number): Promise<PullRequestInfo>;
  mergePullRequest?(num: number, expectedHeadSha: string, message: string): Promise<PullRequestInfo>;
  closePullRequest?(num: number): Promise<void>;
  checks?(sha: string): Promise<ChecksState>;
  compareUrl?(base: string, head: string): string;

  /**
   * The prefix this host's deploy tags carry in the repository, not seen by the engine (image and
   * directory apps sharing a GitOps repository: `worker/`). Names shown to people carry it, and
   * names typed back may (src/core/tag-names.ts).
   */
  readonly tagNamespace?: string;
  /**
   * Image apps: the two versions' image references and the application commits between them;
   * null when these commits record no image (then the generic Git comparison applies).
   */
  compareVersions?(fromSha: string | null, toSha: string): Promise<VersionComparison | null>;
  /**
   * What making `env` run the version of `toSha` (from `fromSha`) writes, in the words of the file
   * it changes (image apps: the GitOps file and field); null for the generic description.
   */
  describeWrite?(env: string, fromSha: string | null, toSha: string): Promise<string[] | null>;
}

/**
 * What an image app's two versions are, side by side (`diff`, a promotion's --dry-run): both
 * image references and, when the images carry `org.opencontainers.image.revision` and `.source`,
 * the application commits between them.
 */
export interface ImageSide {
  /** `registry.example.com/team/worker:1.3.0@sha256:…` */
  reference: string;
  tag?: string;
  digest?: string;
  /** The image's `org.opencontainers.image.revision` label. */
  revision?: string;
  /** The image's `org.opencontainers.image.source` label. */
  source?: string;
}

export interface VersionComparison {
  /** Null when the older side records no image. */
  from: ImageSide | null;
  to: ImageSide;
  /** Application commits in `to` and not in `from`, newest first (the first few); absent when unknown (see note). */
  commits?: CommitInfo[];
  commitCount?: number;
  /** The application repository the commits were read from. */
  repo?: string;
  /** Why there are no commits: no labels, a repository Conveyor cannot read, … */
  note?: string;
}
