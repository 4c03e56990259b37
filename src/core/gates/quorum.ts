/**
 * The approval quorum: approvals are counted by distinct eligible people, never by clicks: the
 * requester never counts, one person fills one role, and only approvals of the version that
 * will ship count (they lapse when it changes).
 */
import { isGitPlan, type Operation } from '../operation.js';
import { type GateApproval, type GateRule, pass, wait } from './gate-rule.js';

export interface RoleProgress {
  role: string;
  needed: number;
  approvers: string[];
}

export interface QuorumStatus {
  roles: RoleProgress[];
  satisfied: boolean;
  missing: string[];
  /** Who can fill each missing role (set where the configuration is at hand): the ones to mention. */
  waitingFor?: { role: string; users: string[]; groups: string[] }[];
}

/** The version approvals are for: the tree that will ship (git), or the journal version. */
export function approvalSubject(op: Pick<Operation, 'plan'>): string {
  return isGitPlan(op.plan) ? op.plan.sourceTree : op.plan.toVersion;
}

export function quorum(
  required: Record<string, number>,
  approvals: GateApproval[],
  subject: string,
  requester: string,
): QuorumStatus {
  const valid = approvals.filter((a) => a.sha === subject && a.userId !== requester);
  const seen = new Set<string>();
  const roles: RoleProgress[] = Object.entries(required).map(([role, needed]) => {
    const approvers: string[] = [];
    for (const a of valid) {
      if (a.role !== role || seen.has(a.userId) || approvers.length >= needed) continue;
      seen.add(a.userId);
      approvers.push(a.userId);
    }
    return { role, needed, approvers };
  });
  const missing = roles
    .filter((r) => r.approvers.length < r.needed)
    .map((r) => `${r.needed - r.approvers.length} ${r.role}`);
  return { roles, satisfied: missing.length === 0, missing };
}

export const rolesQuorum: GateRule = {
  name: 'roles-quorum',
  async check(ctx) {
    if (!ctx.approval) return pass();
    const facts = await ctx.approval.load();
    // The operation ended while its approvals were read: nothing to wait for any more.
    if (!facts) return wait([]);
    const status = quorum(ctx.required, facts.approvals, facts.subject, ctx.requester);
    return status.satisfied ? pass() : wait(status.missing);
  },
};
