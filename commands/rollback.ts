import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { planRollback } from '../src/core/promotion-plan.js';
import { appArg, envArg, requireApp, requireEnv, tagArg, ticketArg } from './args.js';
import { runGitPlan } from './operation-reply.js';

export const rollback = defineCommand({
  name: 'rollback',
  summary: 'Return an environment to its previous deploy tag (or --to)',
  usage: 'rollback <app> <env> [--to <tag>] [--emergency] [--ticket <CHG…>] [--dry-run]',
  help:
    'Adds one new commit whose tree equals the previous deploy tag (or --to), and tags it like any deploy. ' +
    'History is never rewritten. Goes through the environment\'s gate; --emergency uses the rollback roles and is allowed during a freeze.',
  positionals: ['app', 'env'],
  flags: {
    to: { type: 'string', description: 'the deploy tag to return to' },
    emergency: { type: 'boolean', description: 'allowed during freezes; uses the rollback roles' },
    ticket: { type: 'string', description: 'change ticket, e.g. CHG0001234' },
    'dry-run': { type: 'boolean', description: 'print the plan, change nothing' },
  },
  schema: z.object({
    app: appArg,
    env: envArg,
    to: tagArg.optional(),
    emergency: z.boolean().optional(),
    ticket: ticketArg.optional(),
    'dry-run': z.boolean().optional(),
  }),
  mutates: true,
  async run(args, ctx) {
    const app = requireApp(ctx, args.app);
    const env = requireEnv(ctx, args.env);
    const emergency = Boolean(args.emergency);
    return runGitPlan(ctx, 'rollback', () => planRollback(ctx.runtime, { app, env, to: args.to, ticket: args.ticket, emergency }), {
      dryRun: args['dry-run'],
      emergency,
    });
  },
});
