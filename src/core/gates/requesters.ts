/** `gate.requesters`: only people holding one of these roles may ask for changes here. */
import { NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const requesters: GateRule = {
  name: 'requesters',
  async check(ctx) {
    if (!ctx.gate?.requesters.length) return pass();
    const mine = await ctx.rolesOf(ctx.requester);
    if (ctx.gate.requesters.some((r) => mine.includes(r))) return pass();
    return refuse(new NotAllowedError(`only ${ctx.gate.requesters.join(' or ')} may ask for changes in ${ctx.env}`));
  },
};
