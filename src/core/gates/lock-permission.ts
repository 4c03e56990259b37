/** Who may lock or unlock: the environment's approvers and requesters (everyone where none are set). */
import { NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const lockPermission: GateRule = {
  name: 'lock-permission',
  async check(ctx) {
    if (!ctx.gate) return pass();
    const allowed = [
      ...Object.keys(ctx.gate.roles),
      ...Object.keys(ctx.gate.rollbackRoles ?? {}),
      ...ctx.gate.requesters,
    ];
    if (!allowed.length) return pass();
    const mine = await ctx.rolesOf(ctx.requester);
    if (allowed.some((r) => mine.includes(r))) return pass();
    return refuse(new NotAllowedError(`only ${[...new Set(allowed)].join(', ')} may lock or unlock ${ctx.env}`), {
      audit: { action: 'lock.refused', detail: { env: ctx.env } },
    });
  },
};
