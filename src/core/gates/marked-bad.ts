/**
 * A version marked bad by verification (a failed check, or a check failing in its soak window;
 * ../bad-versions.ts) in an environment does not move on to later environments: the same rule,
 * and the same way out (`--force` by someone who holds the target's gate roles), as a version
 * rolled back from (./rolled-back.ts, which runs first when both apply).
 */
import { marksHolding } from '../bad-versions.js';
import { NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const markedBad: GateRule = {
  name: 'marked-bad',
  async check(ctx) {
    const facts = ctx.promotion;
    if (!facts?.markedBad?.length || !ctx.gate) return pass();
    const held = facts.states
      .slice(0, facts.target)
      .flatMap((s) => marksHolding(facts.markedBad!, s, facts.tree).slice(0, 1));
    if (!held.length) return pass();
    const where = held.map((m) => `${m.env} (${m.reason})`).join('; ');
    if (ctx.phase === 'advice')
      return refuse(new NotAllowedError(`this version failed verification in ${held.map((m) => m.env).join(', ')}`));
    const roles = Object.keys(ctx.gate.roles);
    const mine = await ctx.rolesOf(ctx.requester);
    const mayForce = !roles.length || roles.some((r) => mine.includes(r));
    if (facts.force) {
      if (!mayForce)
        return refuse(
          new NotAllowedError(`--force into ${ctx.env} needs one of its approver roles (${roles.join(', ')})`),
        );
      return pass(`forced past a failed verification in ${held.map((m) => m.env).join(', ')}`);
    }
    const message = `${facts.label ?? facts.tree.slice(0, 8)} failed verification in ${where}, so it does not move on to ${ctx.env}`;
    if (!mayForce)
      return refuse(
        new NotAllowedError(`${message}; only someone holding ${roles.join(' or ')} may ship it anyway, with --force`),
      );
    const suggestion = `promote ${ctx.app} ${ctx.env}${facts.version ? ` --version ${facts.version}` : ''}${facts.ticket ? ` --ticket ${facts.ticket}` : ''} --force`;
    return refuse(new NotAllowedError(message, { suggestion }));
  },
};
