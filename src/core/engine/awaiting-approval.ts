/**
 * awaiting-approval → approved once the quorum of the version that will ship now is there (the
 * gates' `await` phase: expiry, then the quorum); expired or failed when a rule refuses. A push
 * to the promotion's pull request lapses the approvals given so far; closing it cancels.
 */
import { approvalSubject } from '../gates/quorum.js';
import { runGates } from '../gates/run-gates.js';
import { isGitOperation, type Operation } from '../operation.js';
import type { EngineMoves, StateHandler } from './state-handler.js';

export const awaitingApproval: StateHandler = {
  state: 'awaiting-approval',
  async handle(op, engine) {
    const outcome = await runGates(
      engine.gateContext('await', op, { approval: { load: () => approvalsToCount(engine, op) } }),
    );
    if (outcome.verdict === 'wait') return false;
    await engine.move(
      op,
      outcome.verdict === 'pass' ? 'approved' : (outcome.outcome ?? 'failed'),
      outcome.verdict === 'pass' ? {} : { error: outcome.reason },
    );
    return true;
  },
};

/** The approvals that count now, and what they must be for; null when the operation ended meanwhile. */
async function approvalsToCount(engine: EngineMoves, op: Operation) {
  if (await lapseOnChangedPullRequest(engine, op)) return null;
  return { approvals: await engine.deps.store.approvals(op.id), subject: approvalSubject(op) };
}

/**
 * Someone pushed to the promotion PR while it waited: what would ship changed, so earlier
 * approvals (given for the old tree) lapse and the gate starts over for the new one.
 */
async function lapseOnChangedPullRequest(engine: EngineMoves, op: Operation): Promise<boolean> {
  if (!isGitOperation(op) || !op.progress.prNumber) return false;
  const { store, git } = engine.deps;
  const host = git.get(op.app);
  if (!host?.getPullRequest) return false;
  const pr = await host.getPullRequest(op.progress.prNumber);
  if (pr.state === 'closed') {
    await engine.move(op, 'cancelled', { error: 'the pull request was closed by hand' });
    return true;
  }
  if (pr.state === 'merged' || pr.headSha === op.progress.newSha) return false;
  await host.sync();
  const tree = await host.treeOf(pr.headSha);
  op.plan = { ...op.plan, sourceTree: tree };
  await store.savePlan(op.id, op.plan);
  await store.saveProgress(op.id, { newSha: pr.headSha, published: null });
  op.progress.newSha = pr.headSha;
  await store.audit('conveyor', 'approvals.lapsed', op.id, { reason: 'the pull request changed', head: pr.headSha });
  return false;
}
