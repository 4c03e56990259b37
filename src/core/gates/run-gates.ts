/**
 * Runs the rules of a phase in order: the first refusal or wait decides; the notes of the
 * rules that passed (a forced promotion) are collected.
 */
import type { GateAudit, GateContext, GateRefusal, GateRule, GateWait } from './gate-rule.js';
import { GATES } from './index.js';

export type GateOutcome =
  | { verdict: 'pass'; notes: string[] }
  | (GateRefusal & { rule: string })
  | (GateWait & { rule: string });

export async function runGates(ctx: GateContext, rules: readonly GateRule[] = GATES[ctx.phase]): Promise<GateOutcome> {
  const notes: string[] = [];
  for (const rule of rules) {
    const verdict = await rule.check(ctx);
    if (verdict.verdict === 'pass') {
      if (verdict.note) notes.push(verdict.note);
      continue;
    }
    return { ...verdict, rule: rule.name };
  }
  return { verdict: 'pass', notes };
}

/** Like runGates, but a refusal is thrown (after its audit line, when `audit` is given). */
export async function enforceGates(
  ctx: GateContext,
  audit?: (entry: GateAudit) => Promise<unknown>,
  rules?: readonly GateRule[],
): Promise<Exclude<GateOutcome, GateRefusal>> {
  const outcome = await runGates(ctx, rules);
  if (outcome.verdict === 'refuse') {
    if (outcome.audit && audit) await audit(outcome.audit);
    throw outcome.error;
  }
  return outcome;
}
