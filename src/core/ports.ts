/**
 * Ports: the small interfaces through which the core speaks to the outside world.
 * Every SDK lives behind one of these in one thin adapter under src/adapters/.
 */
import type { Readable } from 'node:stream';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

// ---------------------------------------------------------------- Git

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
 * A repository host. Reads come from a local mirror (no API calls); writes go through the
 * host's API (GitHub) or by push (plain Git). Every write is compare-and-swap: a branch is
 * only moved from the sha the caller saw, otherwise ConflictError. Never a force-push.
 */
export interface GitHost {
  readonly kind: 'github' | 'git';
  /** Bring the local mirror up to date with the remote. */
  sync(): Promise<void>;
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
  /** Create an annotated tag; succeeds silently when the same tag already points at sha. */
  createTag(input: { name: string; sha: string; message: string }): Promise<void>;

  /** Pull requests: only on hosts that have them (GitHub). */
  openPullRequest?(input: { base: string; head: string; title: string; body: string }): Promise<PullRequestInfo>;
  getPullRequest?(num: number): Promise<PullRequestInfo>;
  mergePullRequest?(num: number, expectedHeadSha: string, message: string): Promise<PullRequestInfo>;
  closePullRequest?(num: number): Promise<void>;
  checks?(sha: string): Promise<ChecksState>;
  compareUrl?(base: string, head: string): string;
}

// ---------------------------------------------------------------- key-value (Consul)

export interface KvEntry {
  key: string;
  value: string;
  modifyIndex: number;
}

export interface KvStore {
  get(key: string): Promise<KvEntry | null>;
  /**
   * Write a key. With `cas`, only when the key's modifyIndex equals it (0: only when absent).
   * Returns false when the CAS was lost.
   */
  put(key: string, value: string, options?: { cas?: number }): Promise<boolean>;
  /**
   * Blocking query: resolves once the key's index passes `index`, or after `waitMs` with the
   * same index (a return is not a change). Rejects with an AbortError when `signal` aborts.
   */
  watch(
    key: string,
    index: number,
    options: { waitMs: number; signal?: AbortSignal },
  ): Promise<{ entry: KvEntry | null; index: number }>;
}

// ---------------------------------------------------------------- objects (S3)

export interface ObjectInfo {
  key: string;
  size: number;
  metadata: Record<string, string>;
  /** ISO 8601: when the object was last written (its upload), where the store says. */
  lastModified?: string;
}

export interface ObjectStore {
  put(key: string, body: Readable, options: { metadata: Record<string, string>; size?: number }): Promise<void>;
  get(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | null>;
  list(prefix: string): Promise<ObjectInfo[]>;
}

// ---------------------------------------------------------------- clusters (Kubernetes)

export interface WorkloadTarget {
  /** kubeconfig context name, or "in-cluster". */
  cluster: string;
  namespace: string;
  /** Deployment name. */
  name: string;
}

export interface WorkloadCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface WorkloadStatus extends WorkloadTarget {
  images: string[];
  generation: number;
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  conditions: WorkloadCondition[];
  /** false when the Deployment was deleted or cannot be seen. */
  exists: boolean;
}

export interface ClusterWatch {
  /** Start informers for the targets; `onChange` gets every observed state (the caller dedups). */
  start(targets: WorkloadTarget[], onChange: (status: WorkloadStatus) => void): Promise<void>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- change tickets (ServiceNow)

export type TicketVerdict = 'approved' | 'pending' | 'rejected' | 'missing';

export interface TicketCheck {
  number: string;
  verdict: TicketVerdict;
  /** The system's own words, e.g. "state=Implement approval=approved". */
  detail: string;
}

export interface ChangeTickets {
  check(number: string): Promise<TicketCheck>;
}

// ---------------------------------------------------------------- notifications (Slack, webhooks)

export interface MessageRef {
  channel: string;
  ts: string;
}

export interface Notice {
  /** Channel id or name (Slack) or a route name for generic webhooks. */
  channel: string;
  /** Plain-text fallback; always present. */
  text: string;
  /** Structured reply to render (Block Kit on Slack). */
  reply?: import('./reply.js').Reply;
  /** Post in the thread of this message. */
  thread?: MessageRef;
}

export interface Notifier {
  post(notice: Notice): Promise<MessageRef | null>;
  update(ref: MessageRef, notice: Notice): Promise<void>;
}

// ---------------------------------------------------------------- people (Slack user groups)

export interface Directory {
  /** Ids of the user groups (e.g. Slack "S0123") the user belongs to. */
  groupsOf(userId: string): Promise<string[]>;
}

export const emptyDirectory: Directory = { groupsOf: async () => [] };
