/**
 * A version rolled back from in an environment is bad there and for every environment after it:
 * moving it on needs `--force` from someone who holds the target environment's gate roles (from
 * anyone where it has none). A forced plan passes with a note it carries. The refusal names the
 * ways out that lead somewhere: a newer version (never held back), and `--force` only for the
 * people whose forced request others could still approve.
 */
import { buildDeployHistory, type DeployHistory } from '../deploy-history.js';
import { NotAllowedError } from '../errors.js';
import { type GateContext, type GateEnvState, type GateRule, pass, refuse } from './gate-rule.js';

export function historyOf(state: GateEnvState): DeployHistory {
  return buildDeployHistory(
    state.tags,
    state.head && state.tree ? { sha: state.head, tree: state.tree, date: state.commit?.date } : null,
  );
}

/** Whether the gate's quorum can be met by people other than `user` (a role given to a group may always be). */
function fillableWithout(ctx: GateContext, user: string): boolean {
  return Object.entries(ctx.required).every(([role, needed]) => {
    const who = ctx.roles[role];
    if (who?.groups.length) return true;
    return (who?.users ?? []).filter((u) => u !== user).length >= needed;
  });
}

/** Who could force it through and get it approved: named people, or "someone holding …" where groups hold a role. */
function forcers(ctx: GateContext, roles: string[]): string | null {
  if (roles.some((r) => ctx.roles[r]?.groups.length)) return `someone holding ${roles.join(' or ')}`;
  const named = [...new Set(roles.flatMap((r) => ctx.roles[r]?.users ?? []))].filter((u) => fillableWithout(ctx, u));
  if (!named.length) return null;
  const held = roles.filter((r) => named.some((u) => ctx.roles[r]?.users.includes(u)));
  return `${named.join(' or ')} (${held.join(', ')})`;
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
    const first = facts.states[0]?.env.name;
    const message =
      `${facts.label ?? facts.tree.slice(0, 8)} was rolled back from in ${where.join(', ')}, so it does not move on to ${ctx.env}; ` +
      `a newer version is not held back: commit a fix and promote it${first ? ` from ${first}` : ''}`;
    if (!mayForce || !fillableWithout(ctx, ctx.requester)) {
      // Name --force only for people whose forced request others could approve.
      const who = roles.length ? forcers(ctx, roles) : null;
      const rest = who
        ? `; only ${who} may ship this one anyway, with --force`
        : `; --force would not help: whoever forces it still needs ${Object.entries(ctx.required)
            .map(([r, n]) => `${n} ${r}`)
            .join(' and ')} approval(s) from others, and ${ctx.env}'s roles have too few people`;
      return refuse(new NotAllowedError(`${message}${rest}`));
    }
    // The way out is named only once it is checked (see checkedRefusal in advice.ts).
    const suggestion = `promote ${ctx.app} ${ctx.env}${facts.version ? ` --version ${facts.version}` : ''}${facts.ticket ? ` --ticket ${facts.ticket}` : ''} --force`;
    return refuse(new NotAllowedError(message, { suggestion }));
  },
};
