import { z } from 'zod';
import type { AppConfig } from '../src/config/schema.js';
import { badMarks, marksHolding } from '../src/core/bad-versions.js';
import type { CommandContext } from '../src/core/command.js';
import { defineCommand } from '../src/core/command.js';
import { rollbackTarget } from '../src/core/deploy-history.js';
import { hostFor, readAppStates } from '../src/core/env-state.js';
import { ago, shortSha } from '../src/core/format.js';
import { historyOf, nameOf } from '../src/core/promotion-plan.js';
import { okReply, type Reply, type ReplyBlock } from '../src/core/reply.js';
import { shownTagOrNull } from '../src/core/tag-names.js';
import { userNames } from '../src/core/user-names.js';
import { appArg, envArg, FRESH_FLAG, readerMaxAgeMs, requireApp, requireEnv } from './args.js';

export const history = defineCommand({
  name: 'history',
  summary: 'Show recent operations, newest first',
  usage: 'history [<app>] [<env>] [--fresh]',
  help:
    'Newest first: who asked, what, when, the outcome and who approved. With an app and an environment: its deploy history, every version that ran there ' +
    '(from its deploy tags, and versions pushed by hand), each marked current, superseded or rolled back from, where rollback would go, then its recent operations.',
  positionals: ['app?', 'env?'],
  flags: FRESH_FLAG,
  schema: z.object({ app: appArg.optional(), env: envArg.optional(), fresh: z.boolean().optional() }),
  mutates: false,
  async run(args, ctx) {
    const app = args.app ? requireApp(ctx, args.app) : undefined;
    if (args.env) requireEnv(ctx, args.env);
    if (app && args.env) return deployHistoryReply(ctx, app, args.env, args.fresh);
    const ops = await operationsTable(ctx, args.app, args.env);
    return okReply(ops ? `${ops.rows.length} operation(s)` : 'No operations yet', ops ? [ops] : []);
  },
});

/** Recent operations, newest first: who asked, what, when, the outcome and who approved. */
async function operationsTable(
  ctx: CommandContext,
  app?: string,
  env?: string,
): Promise<Extract<ReplyBlock, { type: 'table' }> | null> {
  const { store, clock } = ctx.runtime;
  const ops = await store.operations({ app, env, limit: 30 });
  const now = clock.now();
  const byOperation = await store.approvalsOf(ops.map((op) => op.id));
  const given = ops.map((op) => byOperation.get(op.id) ?? []);
  const nameOf = await userNames(ctx.runtime.directory, [
    ...ops.map((op) => op.requester),
    ...given.flat().map((a) => a.userId),
  ]);
  const rows = await Promise.all(
    ops.map(async (op, i) => {
      const approvals = given[i]!;
      return [
        op.id,
        op.kind,
        op.app,
        op.env,
        nameOf(op.requester),
        ago(op.createdAt, now),
        op.state,
        approvals.map((a) => `${nameOf(a.userId)} (${a.role})`).join(', ') || '—',
        op.error ?? '',
      ];
    }),
  );
  return rows.length
    ? { type: 'table', header: ['id', 'kind', 'app', 'env', 'by', 'when', 'outcome', 'approvers', 'note'], rows }
    : null;
}

async function deployHistoryReply(
  ctx: CommandContext,
  app: AppConfig,
  envName: string,
  fresh: boolean | undefined,
): Promise<Reply> {
  const { runtime } = ctx;
  const states = await readAppStates(runtime, app, { maxAgeMs: readerMaxAgeMs(fresh, ctx.source), trustWatcher: true });
  const state = states.find((s) => s.env.name === envName)!;
  const history = historyOf(state);
  const host = hostFor(runtime, app);
  const now = runtime.clock.now();
  const next = rollbackTarget(history);
  // Versions that failed verification here (src/core/bad-versions.ts), while the mark holds.
  const marks = await badMarks(runtime.store, app.name);
  const failed = (tree: string) => marksHolding(marks, state, tree).length > 0;
  const rows = history.entries
    .slice(0, 30)
    .map((e) => [
      shownTagOrNull(host, e.tag) ?? '(no deploy tag)',
      shortSha(e.sha),
      e.kind,
      e.requestedBy ?? '—',
      e.date ? ago(e.date, now) : '—',
      failed(e.tree) ? `${MARKS[e.mark]}, failed verification` : MARKS[e.mark],
    ]);
  const blocks: ReplyBlock[] = rows.length
    ? [{ type: 'table', header: ['version', 'sha', 'how', 'by', 'when', 'status'], rows }]
    : [];
  blocks.push({
    type: 'text',
    text: next
      ? `rollback ${app.name} ${envName} would return to ${nameOf(host, next)}`
      : `rollback ${app.name} ${envName} has no earlier version to return to`,
  });
  const ops = await operationsTable(ctx, app.name, envName);
  if (ops) blocks.push({ type: 'text', text: 'Recent operations:' }, ops);
  return okReply(
    state.head
      ? `Deploy history of ${app.name} in ${envName}: ${history.entries.length} version(s)`
      : `${envName} has no branch ${state.env.branch} yet`,
    blocks,
    {
      data: {
        history: history.entries.map(({ tag, sha, tree, kind, date, mark }) => ({
          tag: shownTagOrNull(host, tag),
          sha,
          kind,
          date,
          mark,
          ...(failed(tree) ? { failedVerification: true } : {}),
        })),
        rollbackTo: next ? nameOf(host, next) : null,
      },
    },
  );
}

const MARKS = { current: 'current', superseded: 'superseded', 'rolled-back-from': 'rolled back from' } as const;
