/**
 * A version rolled back from in an environment is bad there and for every environment after it:
 * moving it on needs `--force` from someone who holds the target environment's gate roles (from
 * anyone where it has none). A forced plan passes with a note it carries.
 */
import { buildDeployHistory, type DeployHistory } from '../deploy-history.js';
import { NotAllowedError } from '../errors.js';
import { type GateEnvState, type GateRule, pass, refuse } from './gate-rule.js';

export function historyOf(state: GateEnvState): DeployHistory {
  return buildDeployHistory(
    state.tags,
    state.head && state.tree ? { sha: state.head, tree: state.tree, date: state.commit?.date } : null,
  );
}

export const rolledBack: GateRule = {
  name: 'rolled-back',
  async check(ctx) {
    const facts = ctx.promotion;
    if (!facts || !ctx.gate) return pass();
    const where = facts.states
      .slice(0, facts.target + 1)
      .filter((s) => historyOf(s).rolledBackFrom.has(facts.tree))
      .map((s) => s.env.name);
    if (!where.length) return pass();
    // A later step of diff's advice: it would be refused, --force or not (the advice names no --force).
    if (ctx.phase === 'advice')
      return refuse(new NotAllowedError(`this version was rolled back from before ${ctx.env}`));
    const roles = Object.keys(ctx.gate.roles);
    const mine = await ctx.rolesOf(ctx.requester);
    const mayForce = !roles.length || roles.some((r) => mine.includes(r));
    if (facts.force) {
      if (!mayForce)
        return refuse(
          new NotAllowedError(`--force into ${ctx.env} needs one of its approver roles (${roles.join(', ')})`),
        );
      return pass(`forced past the rollback in ${where.join(', ')}`);
    }
    const message = `${facts.label ?? facts.tree.slice(0, 8)} was rolled back from in ${where.join(', ')}, so it does not move on to ${ctx.env}`;
    if (!mayForce)
      return refuse(
        new NotAllowedError(`${message}; only someone holding ${roles.join(' or ')} may ship it anyway, with --force`),
      );
    // The way out is named only once it is checked (see checkedRefusal in advice.ts).
    const suggestion = `promote ${ctx.app} ${ctx.env}${facts.version ? ` --version ${facts.version}` : ''}${facts.ticket ? ` --ticket ${facts.ticket}` : ''} --force`;
    return refuse(new NotAllowedError(message, { suggestion }));
  },
};
