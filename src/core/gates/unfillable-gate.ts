/**
 * A request nobody could ever approve is refused when it is made, not left to expire: each
 * required role needs enough named people besides the requester (a role given to a user group
 * may always be filled: its members are not known here).
 */
import { NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const unfillableGate: GateRule = {
  name: 'unfillable-gate',
  check(ctx) {
    if (!ctx.gate || ctx.needsApproval === false) return pass();
    for (const [role, needed] of Object.entries(ctx.required)) {
      const who = ctx.roles[role];
      if (who?.groups.length) continue;
      const others = (who?.users ?? []).filter((u) => u !== ctx.requester);
      if (others.length < needed) {
        const givers = others.length
          ? `only ${others.join(', ')} can give one`
          : who?.users.includes(ctx.requester)
            ? 'nobody but you can give one'
            : 'nobody can give one';
        return refuse(
          new NotAllowedError(
            `${ctx.env} needs ${needed} ${role} approval(s) from someone other than the requester, and ${givers}: this request could never be approved`,
          ),
        );
      }
    }
    return pass();
  },
};
