/**
 * Who may approve now: not the requester, one person one role (per version), and only for a
 * role they hold that is still open. The operation must be waiting for approval.
 */
import { ConflictError, NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';
import { quorum } from './quorum.js';

const refused = (detail: Record<string, unknown>) => ({ audit: { action: 'approval.refused', detail } });

/** The still-open roles `user` can fill, in the gate's order. */
export function openRolesFor(
  required: Record<string, number>,
  approvals: Parameters<typeof quorum>[1],
  subject: string,
  requester: string,
  mine: string[],
): string[] {
  return quorum(required, approvals, subject, requester)
    .roles.filter((r) => r.approvers.length < r.needed && mine.includes(r.role))
    .map((r) => r.role);
}

export const approver: GateRule = {
  name: 'approver',
  async check(ctx) {
    const op = ctx.operation;
    const user = ctx.approval?.approver;
    if (!op || !user || !ctx.approval) return pass();
    if (op.state !== 'awaiting-approval') {
      return refuse(
        new ConflictError(`operation ${op.id} is ${op.state}; there is nothing to approve`),
        refused({ reason: `state ${op.state}` }),
      );
    }
    if (ctx.requester === user) {
      return refuse(
        new NotAllowedError('you asked for this operation; someone else must approve it'),
        refused({ reason: 'requester' }),
      );
    }
    const facts = await ctx.approval.load();
    if (!facts) return pass();
    if (facts.approvals.some((a) => a.userId === user && a.sha === facts.subject)) {
      return refuse(
        new ConflictError(`you already approved ${op.id}; one person fills one role`),
        refused({ reason: 'already-approved' }),
      );
    }
    const mine = await ctx.rolesOf(user);
    if (openRolesFor(ctx.required, facts.approvals, facts.subject, ctx.requester, mine).length) return pass();
    const eligible = Object.keys(ctx.required).filter((r) => mine.includes(r));
    return refuse(
      new NotAllowedError(
        eligible.length
          ? `the ${eligible.join('/')} approval is already given`
          : `you are not one of the approvers (${Object.keys(ctx.required).join(', ')}) of ${op.id}`,
      ),
      refused({ roles: mine }),
    );
  },
};
