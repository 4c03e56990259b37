/**
 * Versions marked bad by verification: a promotion whose checks failed, or whose soak window saw
 * a check fail, marks the version (its tree) bad in that environment. Like a version rolled back
 * from (./deploy-history.ts), it then does not move on to later environments without `--force`
 * (./gates/marked-bad.ts), and `diff` does not advise it. The mark is an audit line
 * (`version.marked-bad`): durable, visible in the audit log and history, and never rewritten; it
 * stops counting once the same version is deployed to that environment again on purpose (a
 * deploy tag of that tree newer than the failed deploy's own tag).
 */
import { isGitPlan, type Operation } from './operation.js';
import type { AuditLog } from './ports.js';

export const MARKED_BAD = 'version.marked-bad';

export interface BadMark {
  app: string;
  env: string;
  tree: string;
  sha: string;
  tag: string | null;
  reason: string;
  operation: string;
  at: string;
}

/** What a gate needs of one environment's state to see whether a mark still counts. */
interface EnvTags {
  env: { name: string };
  /** Newest first. */
  tags: { name: string; tree?: string }[];
}

/** Mark the version a promotion shipped bad in its environment (once per operation). */
export async function markVersionBad(
  store: Pick<AuditLog, 'audit' | 'auditLog'>,
  op: Operation,
  reason: string,
): Promise<BadMark | null> {
  if (op.kind !== 'promote' || !isGitPlan(op.plan)) return null;
  const done = await store.auditLog({ operationId: op.id, action: MARKED_BAD, limit: 1 });
  if (done.length) return null;
  const mark = {
    app: op.app,
    env: op.env,
    tree: op.plan.sourceTree,
    sha: op.plan.sourceSha,
    tag: op.progress.tag ?? null,
    reason: reason.split('\n')[0]!.slice(0, 300),
  };
  await store.audit('conveyor', MARKED_BAD, op.id, mark);
  return { ...mark, operation: op.id, at: new Date().toISOString() };
}

/** Every mark of an app's versions, newest first. */
export async function badMarks(store: Pick<AuditLog, 'auditLog'>, app: string): Promise<BadMark[]> {
  const rows = await store.auditLog({ action: MARKED_BAD, limit: 1000 });
  return rows
    .filter((r) => r.detail.app === app && typeof r.detail.tree === 'string')
    .map((r) => ({
      app,
      env: String(r.detail.env),
      tree: String(r.detail.tree),
      sha: String(r.detail.sha ?? ''),
      tag: (r.detail.tag as string | null) ?? null,
      reason: String(r.detail.reason ?? ''),
      operation: r.operationId ?? '',
      at: r.at,
    }));
}

/**
 * The marks that still hold on `tree` in `state`'s environment: not deployed there again since,
 * i.e. no deploy tag of that tree newer than the tag of the deploy that failed (tags are newest
 * first; Git's order, not the clocks of two machines).
 */
export function marksHolding(marks: readonly BadMark[], state: EnvTags, tree: string): BadMark[] {
  return marks.filter((m) => {
    if (m.env !== state.env.name || m.tree !== tree) return false;
    const at = m.tag ? state.tags.findIndex((t) => t.name === m.tag) : -1;
    return at === -1 || !state.tags.slice(0, at).some((t) => t.tree === tree);
  });
}
