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

export type OperationKind = 'promote' | 'rollback' | 'journal-promote' | 'journal-rollback' | 'journal-seed';

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

export interface Operation {
  id: string;
  kind: OperationKind;
  app: string;
  env: string;
  state: OperationState;
  requester: string;
  plan: GitPlan | JournalPlan;
  /** Results of the steps done so far, persisted after each step (see OperationProgress). */
  progress: OperationProgress;
  idempotencyKey: string | null;
  message: MessageRef | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
}

/**
 * Progress: each part of the engine owns one slice, written only by it and merged into the
 * stored record after each step (so a step resumed after a crash sees what it did before).
 */
/** Written when the operation is requested. */
export interface RequestProgress {
  /** The roles (and how many of each) its gate waits for, decided once. */
  requiredRoles?: Record<string, number>;
  source?: 'slack' | 'cli' | 'http' | 'controller';
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

/** The Git steps' slice (src/core/git-steps.ts): commit, push, pull request, deploy tag. */
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

export type CommonProgress = RequestProgress & PublishProgress & ApplyProgress;

/** The progress of each kind of operation: Git kinds carry the Git slice, journal moves none. */
export interface ProgressByKind {
  promote: CommonProgress & GitProgress;
  rollback: CommonProgress & GitProgress;
  'journal-promote': CommonProgress;
  'journal-rollback': CommonProgress;
  'journal-seed': CommonProgress;
}

/**
 * The progress record as stored, read without knowing the kind: every slice, each optional
 * (a journal operation simply never has the Git fields).
 */
export type OperationProgress = ProgressByKind[OperationKind] & Partial<GitProgress>;

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
  source: 'slack' | 'cli' | 'http' | 'controller';
}
