/**
 * `gate.expiresAfter`: a request nobody approved in time expires. While it waits the engine
 * ends it as expired; an approval that comes too late is refused (after the engine has
 * expired it, so the reply says so).
 */
import { ConflictError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export const EXPIRED_REASON = 'nobody approved in time';

export const expiry: GateRule = {
  name: 'expiry',
  check(ctx) {
    const op = ctx.operation;
    if (!op?.expiresAt || op.state !== 'awaiting-approval' || !(new Date(op.expiresAt) < ctx.now)) return pass();
    return refuse(new ConflictError(EXPIRED_REASON), {
      audit: { action: 'approval.refused', detail: { reason: 'expired' } },
      outcome: 'expired',
    });
  },
};
