/** Shared by promote and rollback: run a Git plan as an operation, or print it (--dry-run). */
import type { AppConfig } from '../src/config/schema.js';
import { checkedRefusal } from '../src/core/advice.js';
import type { CommandContext } from '../src/core/command.js';
import { webLinksFor } from '../src/core/commit-links.js';
import { deployTagPrefix, nextDeployTag } from '../src/core/deploy-tag.js';
import { hostFor } from '../src/core/env-state.js';
import { isConveyorError } from '../src/core/errors.js';
import { gateStatus } from '../src/core/gate-status.js';
import { hooksPreview } from '../src/core/hooks-preview.js';
import type { GitPlan } from '../src/core/operation.js';
import { renderOperation } from '../src/core/operation-view.js';
import type { GitHost } from '../src/core/ports.js';
import { describePlan, NothingToDo } from '../src/core/promotion-plan.js';
import { okReply, type Reply } from '../src/core/reply.js';
import { findApp } from '../src/core/runtime.js';
import { shownTag } from '../src/core/tag-names.js';
import { versionBlocks } from '../src/core/version-comparison-view.js';

export async function runGitPlan(
  ctx: CommandContext,
  kind: 'promote' | 'rollback',
  makePlan: () => Promise<GitPlan>,
  options: { dryRun?: boolean; emergency?: boolean; app?: AppConfig },
): Promise<Reply> {
  const app = options.app;
  let plan: GitPlan;
  try {
    plan = await makePlan();
  } catch (err) {
    if (err instanceof NothingToDo) return okReply(err.message, [], { ephemeral: true });
    // A way out named in a refusal is shown only when it would be accepted from this user.
    if (isConveyorError(err) && err.suggestion && app) throw await checkedRefusal(ctx.runtime, app, err, ctx.user);
    throw err;
  }
  const { runtime } = ctx;
  const request = { kind, app: plan.app, env: plan.env, requester: ctx.user, emergency: Boolean(options.emergency) };
  if (options.dryRun) {
    // Every check the real request runs (freeze, who may ask, locks), in the same order.
    await runtime.engine.preflight(request);
    const host = hostFor(runtime, findApp(runtime.config, plan.app)!);
    const tags = await host.tags(deployTagPrefix(runtime.config.git.tagFormat, plan.env));
    const preview = nextDeployTag(
      runtime.config.git.tagFormat,
      plan.env,
      runtime.clock.now(),
      tags.map((t) => t.name),
    );
    const versions = (await host.compareVersions?.(plan.targetHead, plan.sourceSha)) ?? null;
    const hooks = await hooksPreview(runtime.config, runtime.store, kind, plan);
    return okReply(
      `dry run: ${kind} ${plan.app} → ${plan.env} would be accepted; this is what it would do (nothing was changed)`,
      [
        {
          type: 'list',
          items: describePlan(
            plan,
            host,
            shownTag(host, preview),
            kind,
            runtime.config,
            ctx.user,
            await changeOf(host, plan),
            (await host.describeWrite?.(plan.env, plan.targetHead, plan.sourceSha)) ?? null,
          ),
        },
        // Image apps: the images on both sides and the application commits between them.
        ...(versions
          ? versionBlocks(versions, { from: `${plan.env} now`, to: 'ships' })
          : plan.commits.length
            ? [
                {
                  type: 'list' as const,
                  title: 'commits',
                  items: plan.commits.map((c) => `${c.sha.slice(0, 8)} ${c.subject}`),
                },
              ]
            : []),
        ...(hooks.length ? [{ type: 'list' as const, title: 'before the first write', items: hooks }] : []),
      ],
      { data: { plan, dryRun: true } },
    );
  }
  const op = await runtime.engine.request({
    kind,
    app: plan.app,
    env: plan.env,
    plan,
    requester: ctx.user,
    idempotencyKey: ctx.idempotencyKey ?? null,
    emergency: Boolean(options.emergency),
    source: ctx.source,
  });
  return renderOperation(op, await gateStatus(runtime, op), [], {
    web: webLinksFor(runtime.config, op.app, runtime.git.get(op.app)?.kind),
    tagNamespace: runtime.git.get(op.app)?.tagNamespace,
  });
}

/** Files that change between the branch head and the tree that ships, for a plan that is not a fast-forward. */
async function changeOf(
  host: GitHost,
  plan: GitPlan,
): Promise<{ files: number; added: number; deleted: number } | null> {
  if (plan.mode !== 'commit' || !plan.targetHead) return null;
  const files = await host.diffStat(plan.targetHead, plan.sourceSha);
  return {
    files: files.length,
    added: files.reduce((n, f) => n + f.added, 0),
    deleted: files.reduce((n, f) => n + f.deleted, 0),
  };
}
