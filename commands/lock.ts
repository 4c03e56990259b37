import { z } from 'zod';
import { rolesOf } from '../src/core/approval-gate.js';
import { defineCommand, type CommandContext } from '../src/core/command.js';
import { ConflictError, NotAllowedError } from '../src/core/errors.js';
import { okReply } from '../src/core/reply.js';
import { appOrAllArg, envArg, reasonArg, requireApp, requireEnv } from './args.js';

/** Who may lock or unlock: the environment's approvers and requesters (everyone where none are set). */
export async function assertMayLock(ctx: CommandContext, envName: string): Promise<void> {
  const env = requireEnv(ctx, envName);
  const allowed = [...Object.keys(env.gate.roles), ...Object.keys(env.gate.rollbackRoles ?? {}), ...env.gate.requesters];
  if (!allowed.length) return;
  const mine = await rolesOf(ctx.runtime, ctx.user);
  if (!allowed.some((r) => mine.includes(r))) {
    await ctx.runtime.store.audit(ctx.user, 'lock.refused', null, { env: envName });
    throw new NotAllowedError(`only ${[...new Set(allowed)].join(', ')} may lock or unlock ${envName}`);
  }
}

export const lock = defineCommand({
  name: 'lock',
  summary: 'Stop promotions and rollbacks of an app (or every app: *) in an environment',
  usage: 'lock <app|*> <env> [reason…]',
  help: 'While locked, promote and rollback into the environment are refused with the lock\'s reason. `unlock` lifts it.',
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
