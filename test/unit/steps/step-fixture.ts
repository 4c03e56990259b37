/** An operation, its store and its host, all in memory: what the step tests run against. */
import { type GitOperation, type GitPlan, isGitOperation } from '../../../src/core/operation.js';
import { gitRun } from '../../../src/core/steps/git/run.js';
import type { StepEngine } from '../../../src/core/steps/kind-runner.js';
import { FixedClock } from '../../fakes/fixed-clock.js';
import { MemoryGitHost } from '../../fakes/memory-git-host.js';
import { MemoryStore } from '../../fakes/memory-store.js';

export async function gitOperation(
  options: { mode?: 'fast-forward' | 'commit'; pullRequests?: boolean; kind?: 'promote' | 'rollback' } = {},
) {
  const host = new MemoryGitHost({ pullRequests: options.pullRequests });
  const base = host.commit_('T0');
  const source = host.commit_('T1', [base]);
  host.branches.set('develop', source);
  // A commit-mode promotion: the target branch has a commit of its own the source lacks.
  const target = options.mode === 'commit' ? host.commit_('T0b', [base]) : base;
  host.branches.set('qa', target);
  const plan: GitPlan = {
    app: 'api',
    env: 'qa',
    branch: 'qa',
    sourceEnv: 'development',
    sourceSha: source,
    sourceTree: 'T1',
    targetHead: target,
    mode: options.mode ?? 'fast-forward',
    viaPullRequest: Boolean(options.pullRequests),
    commits: [],
    commitCount: 1,
    ticket: null,
    emergency: false,
    fromTag: null,
    toTag: null,
    reason: null,
  };
  const clock = new FixedClock();
  const store = new MemoryStore(() => clock.now());
  const created = await store.createOperation({
    kind: options.kind ?? 'promote',
    app: 'api',
    env: 'qa',
    requester: 'U_DEV',
    plan,
    idempotencyKey: null,
    expiresAt: null,
  });
  const engine: StepEngine = {
    deps: { store, config: { git: { tagFormat: '{env}/{yyyy}.{mm}.{dd}.{n}' } }, clock, git: new Map([['api', host]]) },
  };
  const reload = async (): Promise<GitOperation> => {
    const op = await store.operation(created.id);
    if (!isGitOperation(op)) throw new Error('not a Git operation');
    return op;
  };
  const op = await reload();
  /** The steps' runner over the operation as stored now (what a resume after a crash starts from). */
  const resume = async () => gitRun(engine, await reload());
  return { host, store, engine, op, reload, resume, source, target, base, clock };
}
