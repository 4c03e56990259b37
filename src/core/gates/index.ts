/**
 * The gate registry: every rule, and the order each phase runs them in. A rule is one file
 * beside this one; adding one means writing it (and its test in test/unit/gates/) and naming it
 * in the phases below where it applies. The same rule objects serve every phase; a rule that
 * behaves differently in one phase reads `ctx.phase`.
 */
import { approver } from './approver.js';
import { changeTicket } from './change-ticket.js';
import { envLock } from './env-lock.js';
import { expiry } from './expiry.js';
import { freeze } from './freeze.js';
import type { GatePhase, GateRule } from './gate-rule.js';
import { lockPermission } from './lock-permission.js';
import { markedBad } from './marked-bad.js';
import { rolesQuorum } from './quorum.js';
import { rejecter } from './rejecter.js';
import { requesters } from './requesters.js';
import { requiredChecks } from './required-checks.js';
import { rolledBack } from './rolled-back.js';
import { unfillableGate } from './unfillable-gate.js';

export const GATE_RULES: readonly GateRule[] = [
  rolledBack,
  markedBad,
  requiredChecks,
  changeTicket,
  freeze,
  requesters,
  unfillableGate,
  envLock,
  expiry,
  approver,
  rolesQuorum,
  lockPermission,
  rejecter,
];

/** What the request-time checks are; a dry run adds the lock (a real request takes it instead). */
const REQUEST: readonly GateRule[] = [freeze, requesters, unfillableGate];

export const GATES: Readonly<Record<GatePhase, readonly GateRule[]>> = {
  /** While planning a promotion (rollback plans run only the ticket: see planRollback). */
  plan: [rolledBack, markedBad, requiredChecks, changeTicket],
  request: REQUEST,
  'dry-run': [...REQUEST, envLock],
  /**
   * A later step of diff's advice cannot be planned before the step ahead of it lands: what does
   * not depend on that is checked now, first what the plan would refuse (no ticket can be named
   * yet; a version rolled back from), then what the dry run would.
   */
  advice: [changeTicket, rolledBack, markedBad, ...REQUEST, envLock],
  approve: [expiry, approver],
  await: [expiry, rolesQuorum],
  apply: [changeTicket],
  lock: [lockPermission],
  reject: [rejecter],
};
