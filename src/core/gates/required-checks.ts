/** `gate.requireChecks`: the commit that ships must have passing CI checks (hosts that have checks). */
import { NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const requiredChecks: GateRule = {
  name: 'required-checks',
  async check(ctx) {
    const facts = ctx.promotion;
    if (!ctx.gate?.requireChecks || !facts?.checks || !facts.sourceSha) return pass();
    const checks = await facts.checks(facts.sourceSha);
    if (checks !== 'failure' && checks !== 'pending') return pass();
    return refuse(
      new NotAllowedError(
        `the checks of ${facts.sourceSha.slice(0, 8)} are ${checks === 'failure' ? 'failing' : 'still running'}; ${ctx.env} requires passing checks`,
      ),
    );
  },
};
