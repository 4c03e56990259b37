import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { ConflictError, NotFoundError } from '../src/core/errors.js';
import { okReply } from '../src/core/reply.js';
import { appOrAllArg, envArg, requireApp } from './args.js';
import { assertMayLock } from './lock.js';

export const unlock = defineCommand({
  name: 'unlock',
  summary: 'Lift a lock set with lock',
  usage: 'unlock <app|*> <env>',
  help: 'Lifts a lock set with `lock`. Operation locks are released by their operations, never by hand.',
  positionals: ['app', 'env'],
  flags: {},
  schema: z.object({ app: appOrAllArg, env: envArg }),
  mutates: true,
  async run(args, ctx) {
    if (args.app !== '*') requireApp(ctx, args.app);
    await assertMayLock(ctx, args.env);
    if (!(await ctx.runtime.store.clearManualLock(args.app, args.env))) {
      const wildcard =
        args.app !== '*' &&
        (await ctx.runtime.store.locksFor(args.app, args.env)).find((l) => l.manual && l.app === '*');
      if (wildcard) {
        throw new ConflictError(
          `${args.app} in ${args.env} is not locked by itself: every app in ${args.env} is (by ${wildcard.holder}: ${wildcard.reason}); lift that with: unlock * ${args.env}`,
          {
            suggestion: `unlock * ${args.env}`,
          },
        );
      }
      throw new NotFoundError(`${args.app === '*' ? 'every app' : args.app} in ${args.env} is not locked`);
    }
    await ctx.runtime.store.audit(ctx.user, 'lock.cleared', null, { app: args.app, env: args.env });
    return okReply(`Unlocked ${args.app === '*' ? 'every app' : args.app} in ${args.env}`);
  },
});
