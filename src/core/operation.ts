/** The durable operation record and its state machine (SPEC §1). */
import type { CommitInfo } from './ports/git-host.js';
import type { MessageRef } from './ports/notifier.js';

export const OPERATION_STATES = [
  'requested',
  'awaiting-approval',
  'approved',
  'applying',
  'applied',
  'verifying',
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'cancelled',
] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

export const FINAL_STATES: ReadonlySet<OperationState> = new Set([
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'cancelled',
]);

const NEXT: Record<OperationState, OperationState[]> = {
  requested: ['awaiting-approval', 'approved', 'failed', 'cancelled', 'rejected'],
  'awaiting-approval': ['approved', 'rejected', 'expired', 'cancelled', 'failed'],
  approved: ['applying', 'failed', 'cancelled'],
  applying: ['applied', 'failed', 'cancelled'],
  applied: ['verifying', 'succeeded', 'failed'],
  verifying: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
  rejected: [],
  expired: [],
  cancelled: [],
};

export function canTransition(from: OperationState, to: OperationState): boolean {
  return NEXT[from].includes(to);
}

/** The states of one write, in order (`to` last); each must follow the one before it. */
export function movesThrough(through: OperationState[], to: OperationState): OperationState[] {
  const hops = [...through, to];
  for (let i = 1; i < hops.length; i++) {
    if (!canTransition(hops[i - 1]!, hops[i]!)) throw new Error(`no move from ${hops[i - 1]} to ${hops[i]}`);
  }
  return hops;
}

/** The kinds whose plan is a GitPlan: they write the app's environment branch and tag it. */
export type GitKind = 'promote' | 'rollback';
/** The kinds whose plan is a JournalPlan: they move journal pointers in the key-value store. */
export type JournalKind = 'journal-promote' | 'journal-rollback' | 'journal-seed';
export type OperationKind = GitKind | JournalKind;

export function isGitKind(kind: OperationKind): kind is GitKind {
  return kind === 'promote' || kind === 'rollback';
}

/** What a promotion or rollback will do, decided once when requested. */
export interface GitPlan {
  app: string;
  env: string;
  branch: string;
  sourceEnv: string | null;
  /** The commit whose tree the environment will run. */
  sourceSha: string;
  /** Its tree: the "version". Approvals are for this tree. */
  sourceTree: string;
  /** Branch head when planned; null when the branch does not exist yet. */
  targetHead: string | null;
  mode: 'fast-forward' | 'commit';
  viaPullRequest: boolean;
  commits: CommitInfo[];
  commitCount: number;
  ticket: string | null;
  emergency: boolean;
  fromTag: string | null;
  toTag: string | null;
  reason: string | null;
}

export interface JournalPlan {
  env: string;
  key: string;
  fromVersion: string | null;
  toVersion: string;
  /** Consul modify index seen when planned (CAS). */
  index: number;
  reason: string | null;
  /**
   * `journal seed`: every key it moves, each by compare-and-swap from what was planned (then
   * env/key name the most guarded of them, and from/to summarise the moves).
   */
  moves?: { env: string; key: string; fromVersion: string | null; toVersion: string; index: number }[];
}

/**
 * Progress: each part of the engine owns one slice, written only by it and merged into the
 * stored record after each step (so a step resumed after a crash sees what it did before).
 */
/** Written when the operation is requested. */
export interface RequestProgress {
  /** The roles (and how many of each) its gate waits for, decided once. */
  requiredRoles?: Record<string, number>;
  source?: 'slack' | 'cli' | 'http' | 'github' | 'controller';
  /** The environment asks for a confirmation before approve/reject buttons act. */
  confirm?: boolean;
}

/** Written by the announcer: the last state it posted (null: post the current state again). */
export interface PublishProgress {
  published?: OperationState | null;
  /** People already sent the waiting request privately (`gate.dmApprovers`): each once. */
  dmSent?: string[];
}

/** Written by the apply loop: the last step done, and the upstream failure it paused on. */
export interface ApplyProgress {
  lastStep?: string;
  lastError?: string | null;
}

/**
 * The Git steps' slices (src/core/steps/git/): commit, push, pull request, deploy tag. Read as
 * one record (GitProgress); each step writes only its own slice (GitStepWrites).
 */
export interface GitProgress {
  /** The commit the branch moves to (write-commit); null after a re-plan. */
  newSha?: string | null;
  /** Recorded before the push, so a resume knows a branch at newSha was its own push. */
  pushing?: boolean;
  /** The branch moved under the operation once and it was planned again. */
  replanned?: boolean;
  prNumber?: number;
  prUrl?: string;
  mergeSha?: string;
  tag?: string;
  /** What the deploy tag points at: the last Git step is done. */
  deployedSha?: string;
}

/** What each Git step may write, keyed by its name: its own slice of GitProgress, nothing else. */
export interface GitStepWrites {
  'write-commit': { newSha: string };
  /**
   * The push: `pushing` before it, `replanned` when the branch moved under the operation; a
   * re-plan also discards the commit written for the old plan (`newSha: null`), nothing more.
   * Where the deploy tag goes in the same push, its name (`tag`) is recorded with `pushing`.
   */
  'move-branch': { pushing: boolean; replanned?: true; newSha?: null; tag?: string };
  'open-pr': { prNumber: number; prUrl: string };
  'merge-pr': { mergeSha: string | undefined };
  tag: { tag: string } | { deployedSha: string };
}
export type GitStepName = keyof GitStepWrites;

export type CommonProgress = RequestProgress & PublishProgress & ApplyProgress;

/** A journal operation never has the Git fields (read without narrowing, they are undefined). */
export type NoGitProgress = { [K in keyof GitProgress]?: never };

/** The progress record as stored, read without knowing the kind: every slice, each optional. */
export type OperationProgress = GitOperation['progress'] | JournalOperation['progress'];

/** What may be merged into the stored progress record (the store's saveProgress). */
export type ProgressPatch = Partial<CommonProgress & GitProgress>;

interface OperationRecord {
  id: string;
  app: string;
  env: string;
  state: OperationState;
  requester: string;
  idempotencyKey: string | null;
  message: MessageRef | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
}

/** A promotion or rollback: a GitPlan, and the Git steps' progress beside the common slices. */
export interface GitOperation extends OperationRecord {
  kind: GitKind;
  plan: GitPlan;
  /** Results of the steps done so far, persisted after each step. */
  progress: CommonProgress & GitProgress;
}

/** A journal move (promote, rollback, seed): a JournalPlan, and only the common slices. */
export interface JournalOperation extends OperationRecord {
  kind: JournalKind;
  plan: JournalPlan;
  progress: CommonProgress & NoGitProgress;
}

/** The durable operation: its kind tells its plan and its progress (narrow with isGitOperation). */
export type Operation = GitOperation | JournalOperation;

export function isGitOperation(op: Operation): op is GitOperation {
  return isGitKind(op.kind);
}

export function isJournalOperation(op: Operation): op is JournalOperation {
  return !isGitKind(op.kind);
}

/** An emergency promotion or rollback (its gate may ask for other roles); never a journal move. */
export function isEmergency(op: Operation): boolean {
  return isGitOperation(op) && Boolean(op.plan.emergency);
}

/** A copy of the operation with some of its common progress changed (what the announcer reads). */
export function withProgress<O extends Operation>(op: O, patch: CommonProgress): O {
  return { ...op, progress: { ...op.progress, ...patch } };
}

/** For a plan met without its operation (a request being built); with the operation, use isGitOperation. */
export function isGitPlan(plan: Operation['plan']): plan is GitPlan {
  return 'branch' in plan;
}

/** What asks for an operation: the engine's `request` (src/core/ports/engine.ts). */
export interface OperationRequest {
  kind: OperationKind;
  app: string;
  env: string;
  plan: Operation['plan'];
  requester: string;
  idempotencyKey: string | null;
  emergency: boolean;
  source: 'slack' | 'cli' | 'http' | 'github' | 'controller';
}
