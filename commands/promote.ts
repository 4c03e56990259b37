import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { planPromotion } from '../src/core/promotion-plan.js';
import { appArg, envArg, requireApp, requireEnv, ticketArg, versionArg } from './args.js';
import { runGitPlan } from './operation-reply.js';

export const promote = defineCommand({
  name: 'promote',
  summary: 'Move the newest change one stage forward, or into <env>',
  usage: 'promote <app> [<env>] [--version <tag|sha>] [--ticket <CHG…>] [--force] [--dry-run]',
  help:
    'Without <env>, promotes into the first environment whose version differs from the one before it. ' +
    'With <env>, the source is the environment before it. Push environments fast-forward when they can, ' +
    'else get one new commit whose tree equals the source (never a force-push). Pull-request environments get a PR, ' +
    'merged once the approval gate is satisfied. Every change is marked by an annotated deploy tag. ' +
    'A version that an environment rolled back from does not move on (into it or any later stage) unless --force is given by someone ' +
    "holding the target environment's approver roles. --dry-run runs every check the real request runs and prints the plan, or the refusal (exit 1).",
  positionals: ['app', 'env?'],
  flags: {
    version: { type: 'string', description: 'a deploy tag or sha that the source stage has run' },
    ticket: { type: 'string', description: 'change ticket, e.g. CHG0001234' },
    force: {
      type: 'boolean',
      description:
        "ship a version that was rolled back from (someone holding the target's approver roles; anyone where it has none)",
    },
    'dry-run': { type: 'boolean', description: 'run every check and print the plan, change nothing' },
  },
  schema: z.object({
    app: appArg,
    env: envArg.optional(),
    version: versionArg.optional(),
    ticket: ticketArg.optional(),
    force: z.boolean().optional(),
    'dry-run': z.boolean().optional(),
  }),
  mutates: true,
  async run(args, ctx) {
    const app = requireApp(ctx, args.app);
    if (args.env) requireEnv(ctx, args.env);
    return runGitPlan(
      ctx,
      'promote',
      () =>
        planPromotion(ctx.runtime, {
          app,
          env: args.env,
          version: args.version,
          ticket: args.ticket,
          requester: ctx.user,
          force: args.force,
        }),
      {
        dryRun: args['dry-run'],
        app,
      },
    );
  },
});
