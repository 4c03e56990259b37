/**
 * One gate rule: a small check with one verdict (pass, refuse with the error the user sees, or
 * wait for approvals). Rules never write; what a refusal should leave in the audit log rides on
 * the verdict and is written by whoever runs the gate. The order each phase runs them in is in
 * ./index.ts; ./run-gates.ts runs them.
 */
import type { Config, GateConfig } from '../../config/schema.js';
import type { BadMark } from '../bad-versions.js';
import type { ConveyorError } from '../errors.js';
import type { OperationKind, OperationState } from '../operation.js';
import type { ChangeTickets, ChecksState, DeployTag } from '../ports.js';

/** What a rule reads of one environment's state (structurally core/env-state's EnvState). */
export interface GateEnvState {
  env: { name: string };
  head: string | null;
  tree: string | null;
  commit: { date: string } | null;
  tags: DeployTag[];
}

/**
 * When a gate runs. `plan`: while a promotion or rollback is planned (what `--dry-run` and the
 * real request both plan); `request`: before a request is stored; `dry-run`: what `request` would
 * refuse, plus the lock; `advice`: a later step of `diff`'s advice, which cannot be planned yet;
 * `approve`: a person approves; `await`: the operation waits for its quorum; `apply`: right
 * before the first write; `lock`: `lock`/`unlock`; `reject`: a person rejects (or the requester
 * withdraws).
 */
export type GatePhase = 'plan' | 'request' | 'dry-run' | 'advice' | 'approve' | 'await' | 'apply' | 'lock' | 'reject';

export interface GateAudit {
  action: string;
  detail: Record<string, unknown>;
}

export interface GatePass {
  verdict: 'pass';
  /** A note the plan carries (e.g. a forced promotion). */
  note?: string;
}

export interface GateRefusal {
  verdict: 'refuse';
  reason: string;
  suggestion?: string;
  /** The error the user gets: its class and message are the contract (tests assert on them). */
  error: ConveyorError;
  /** The audit line the refusal leaves. */
  audit?: GateAudit;
  /** Where a waiting operation ends when refused (default failed). */
  outcome?: 'expired' | 'failed';
}

export interface GateWait {
  verdict: 'wait';
  /** "1 tech-lead", … */
  missing: string[];
}

export type GateVerdict = GatePass | GateRefusal | GateWait;

export function pass(note?: string): GatePass {
  return note ? { verdict: 'pass', note } : { verdict: 'pass' };
}

export function refuse(
  error: ConveyorError,
  options: { audit?: GateAudit; outcome?: GateRefusal['outcome'] } = {},
): GateRefusal {
  return {
    verdict: 'refuse',
    reason: error.message,
    ...(error.suggestion ? { suggestion: error.suggestion } : {}),
    error,
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.outcome ? { outcome: options.outcome } : {}),
  };
}

export function wait(missing: string[]): GateWait {
  return { verdict: 'wait', missing };
}

/** The locks a dry run looks at (structurally the lock and operation stores). */
export interface GateLocks {
  locksFor(
    app: string,
    env: string,
  ): Promise<{ app: string; operationId: string | null; holder: string; reason: string; manual: boolean }[]>;
  findOperation(id: string): Promise<{ state: OperationState; expiresAt: string | null } | null>;
}

export interface GateApproval {
  userId: string;
  role: string;
  sha: string;
}

/** What a promotion is about to ship (plan) or would ship (advice). */
export interface PromotionFacts {
  /** Every environment's state, in pipeline order, and the index of the target. */
  states: GateEnvState[];
  target: number;
  /** The version (tree) that ships, and how the user named it. */
  tree: string;
  label?: string;
  sourceSha?: string;
  /** The command's flags, for the way out a refusal names. */
  force?: boolean;
  version?: string;
  ticket?: string;
  /** The host's CI checks of a commit, where the host has them. */
  checks?: (sha: string) => Promise<ChecksState>;
  /** The app's versions marked bad by verification (../bad-versions.ts). */
  markedBad?: readonly BadMark[];
}

export interface ApprovalFacts {
  /** `approve`: who approves now. */
  approver?: string;
  /**
   * The approvals so far and the version they must be for; null when the operation ended while
   * this was read (its pull request was closed by hand).
   */
  load(): Promise<{ approvals: GateApproval[]; subject: string } | null>;
}

export interface GateContext {
  phase: GatePhase;
  /** null for `lock`/`unlock`, which concern an environment, not an operation. */
  kind: OperationKind | null;
  app: string;
  env: string;
  /** The environment's gate (an app environment's, or a journal chain link's); null: none. */
  gate: GateConfig | null;
  /** The roles (and how many of each) the operation waits for. */
  required: Record<string, number>;
  requester: string;
  emergency: boolean;
  now: Date;
  /** Who holds each role (the configuration's `roles`). */
  roles: Config['roles'];
  rolesOf(user: string): Promise<string[]>;
  /** `request`: false when the request needs no approval (nobody has to be able to give one). */
  needsApproval?: boolean;
  locks?: GateLocks;
  /** The change ticket given (plan) or recorded (apply), and ServiceNow when configured. */
  ticket?: string | null;
  tickets?: ChangeTickets | null;
  promotion?: PromotionFacts;
  operation?: { id: string; state: OperationState; expiresAt: string | null };
  approval?: ApprovalFacts;
  /** `reject`: who rejects now. */
  rejection?: { by: string };
}

export interface GateRule {
  /** kebab-case, as the file. */
  name: string;
  check(ctx: GateContext): GateVerdict | Promise<GateVerdict>;
}
