/**
 * The (app, environment) lock: a manual lock, or another operation holding it. `request` takes
 * the lock itself (atomically, after storing the operation); this rule is what a dry run and
 * diff's advice see. An expired request waiting for approval gives its lock up when the next
 * request comes, so it does not refuse.
 */
import { ConflictError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export function lockedMessage(
  lock: { app: string; manual: boolean; holder: string; reason: string },
  app: string,
  env: string,
): string {
  const what = lock.manual
    ? `locked by ${lock.holder}: ${lock.reason}`
    : `busy with ${lock.reason} (asked by ${lock.holder})`;
  return `${lock.app === '*' ? 'every app' : app} in ${env} is ${what}`;
}

/** An operation past its expiry that still waits for approval (the sweep has not expired it yet). */
export function expiredWhileWaiting(op: { state: string; expiresAt: string | null } | null, now: Date): boolean {
  return Boolean(op?.expiresAt && op.state === 'awaiting-approval' && new Date(op.expiresAt) < now);
}

export const envLock: GateRule = {
  name: 'env-lock',
  async check(ctx) {
    if (!ctx.locks) return pass();
    const [lock] = await ctx.locks.locksFor(ctx.app, ctx.env);
    if (!lock) return pass();
    if (
      lock.operationId &&
      !lock.manual &&
      expiredWhileWaiting(await ctx.locks.findOperation(lock.operationId), ctx.now)
    )
      return pass();
    return refuse(new ConflictError(lockedMessage(lock, ctx.app, ctx.env)));
  },
};
