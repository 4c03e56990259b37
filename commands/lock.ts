import { z } from 'zod';
import { type CommandContext, defineCommand } from '../src/core/command.js';
import { ConflictError } from '../src/core/errors.js';
import { gateContext } from '../src/core/gates/context.js';
import { enforceGates } from '../src/core/gates/run-gates.js';
import { okReply } from '../src/core/reply.js';
import { appOrAllArg, envArg, reasonArg, requireApp, requireEnv } from './args.js';

/** Who may lock or unlock: the gate's `lock-permission` rule (src/core/gates/lock-permission.ts). */
export async function assertMayLock(ctx: CommandContext, envName: string): Promise<void> {
  requireEnv(ctx, envName);
  const req = { kind: null, app: '*', env: envName, requester: ctx.user, emergency: false };
  await enforceGates(gateContext(ctx.runtime, 'lock', req), (a) =>
    ctx.runtime.store.audit(ctx.user, a.action, null, a.detail),
  );
}

export const lock = defineCommand({
  name: 'lock',
  summary: 'Stop promotions and rollbacks of an app (or every app: *) in an environment',
  usage: 'lock <app|*> <env> [reason…]',
  help: "While locked, promote and rollback into the environment are refused with the lock's reason. `unlock` lifts it.",
  positionals: ['app', 'env', 'reason...'],
  flags: {},
  schema: z.object({ app: appOrAllArg, env: envArg, reason: reasonArg.optional() }),
  mutates: true,
  async run(args, ctx) {
    if (args.app !== '*') requireApp(ctx, args.app);
    await assertMayLock(ctx, args.env);
    const reason = args.reason?.trim() || 'no reason given';
    if (!(await ctx.runtime.store.setManualLock(args.app, args.env, ctx.user, reason))) {
      const [existing] = (await ctx.runtime.store.locksFor(args.app, args.env)).filter((l) => l.manual);
      throw new ConflictError(`already locked by ${existing?.holder}: ${existing?.reason}`);
    }
    await ctx.runtime.store.audit(ctx.user, 'lock.set', null, { app: args.app, env: args.env, reason });
    return okReply(`Locked ${args.app === '*' ? 'every app' : args.app} in ${args.env}: ${reason}`);
  },
});
