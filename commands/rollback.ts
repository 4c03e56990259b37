import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { planRollback } from '../src/core/promotion-plan.js';
import { appArg, envArg, requireApp, requireEnv, ticketArg, versionArg } from './args.js';
import { runGitPlan } from './operation-reply.js';

export const rollback = defineCommand({
  name: 'rollback',
  summary: 'Return an environment to the version that ran before (or --to)',
  usage: 'rollback <app> <env> [--to <tag|sha>] [--emergency] [--ticket <CHG…>] [--dry-run]',
  help:
    'Returns the environment to the newest version in its deploy history (see history <app> <env>) before the current one that was not itself rolled back from, ' +
    'so repeated rollbacks walk back in time and never return to a version just abandoned. --to takes a deploy tag of this environment, or a sha that ran here. ' +
    'Adds one new commit whose tree equals that version and tags it like any deploy; history is never rewritten. The version left is marked rolled back from: ' +
    "it does not move on to later environments without --force. Goes through the environment's gate; --emergency uses the rollback roles and is allowed during a freeze. " +
    '--dry-run runs every check and prints the plan, or the refusal (exit 1).',
  positionals: ['app', 'env'],
  flags: {
    to: { type: 'string', description: 'a deploy tag of this environment, or a sha that ran here' },
    emergency: { type: 'boolean', description: 'allowed during freezes; uses the rollback roles' },
    ticket: { type: 'string', description: 'change ticket, e.g. CHG0001234' },
    'dry-run': { type: 'boolean', description: 'print the plan, change nothing' },
  },
  schema: z.object({
    app: appArg,
    env: envArg,
    to: versionArg.optional(),
    emergency: z.boolean().optional(),
    ticket: ticketArg.optional(),
    'dry-run': z.boolean().optional(),
  }),
  mutates: true,
  async run(args, ctx) {
    const app = requireApp(ctx, args.app);
    const env = requireEnv(ctx, args.env);
    const emergency = Boolean(args.emergency);
    return runGitPlan(
      ctx,
      'rollback',
      () => planRollback(ctx.runtime, { app, env, to: args.to, ticket: args.ticket, emergency }),
      {
        dryRun: args['dry-run'],
        emergency,
      },
    );
  },
});
