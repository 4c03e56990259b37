import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { ago } from '../src/core/format.js';
import { okReply } from '../src/core/reply.js';
import { appArg, envArg, requireApp, requireEnv } from './args.js';

export const history = defineCommand({
  name: 'history',
  summary: 'Show recent operations, newest first',
  usage: 'history [<app>] [<env>]',
  help: 'Newest first: who asked, what, when, the outcome and who approved.',
  positionals: ['app?', 'env?'],
  flags: {},
  schema: z.object({ app: appArg.optional(), env: envArg.optional() }),
  mutates: false,
  async run(args, ctx) {
    if (args.app) requireApp(ctx, args.app);
    if (args.env) requireEnv(ctx, args.env);
    const { store, clock } = ctx.runtime;
    const ops = await store.operations({ app: args.app, env: args.env, limit: 30 });
    const now = clock.now();
    const rows = await Promise.all(
      ops.map(async (op) => {
        const approvals = await store.approvals(op.id);
        return [
          op.id, op.kind, op.app, op.env, op.requester, ago(op.createdAt, now), op.state,
          approvals.map((a) => `${a.userId} (${a.role})`).join(', ') || '—',
          op.error ?? '',
        ];
      }),
    );
    return okReply(rows.length ? `${rows.length} operation(s)` : 'No operations yet', rows.length
      ? [{ type: 'table', header: ['id', 'kind', 'app', 'env', 'by', 'when', 'outcome', 'approvers', 'note'], rows }]
      : []);
  },
});
