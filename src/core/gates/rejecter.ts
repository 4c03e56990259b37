/**
 * Who may reject: an operation waiting for approval can be rejected by anyone who holds one of
 * the roles its gate requires, or withdrawn by its requester. A refusal is audited.
 */
import { ConflictError, NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const rejecter: GateRule = {
  name: 'rejecter',
  async check(ctx) {
    const op = ctx.operation;
    const user = ctx.rejection?.by;
    if (!op || !user) return pass();
    if (op.state !== 'awaiting-approval') {
      return refuse(new ConflictError(`operation ${op.id} is ${op.state}; it cannot be rejected now`));
    }
    const mine = await ctx.rolesOf(user);
    const required = Object.keys(ctx.required);
    if (user === ctx.requester || required.some((r) => mine.includes(r))) return pass();
    return refuse(
      new NotAllowedError(`only an approver (${required.join(', ')}) or the requester can reject ${op.id}`),
      {
        audit: { action: 'rejection.refused', detail: {} },
      },
    );
  },
};
