/**
 * Verification through a GitOps applier: an operation in an environment with an `applier`
 * counts as deployed only when the applier reports the commit the operation wrote (or a later
 * one that contains it) as synced and healthy, and it fails when the applier reports a failure
 * for that commit (Argo CD sync failed or health Degraded; Flux Ready=False for it), with the
 * applier's own message. A failure of an older revision is not ours: the verdict waits.
 */
import { isGitPlan, type Operation } from '../core/operation.js';
import type { GitHost } from '../core/ports.js';
import type { Runtime } from '../core/runtime.js';
import { applierState, revisionSha } from './applier-state.js';
import type { AppTarget } from './live-reconciler.js';
import type { KubeObject } from './object-watch.js';

export interface ApplierVerdict {
  state: 'deployed' | 'waiting' | 'failed';
  detail: string;
  /** The commit the verdict is about. */
  ours: string | null;
}

const short = (s: string) => s.slice(0, 8);

/** The commit an operation wrote to the branch the applier follows (null: none known yet). */
export async function ourRevision(runtime: Runtime, op: Operation): Promise<string | null> {
  const p = op.progress;
  const sha = isGitPlan(op.plan) ? (p.deployedSha ?? p.mergeSha ?? p.newSha) : null;
  if (!sha) return null;
  const app = runtime.config.apps.find((a) => a.name === op.app);
  if (!app?.strategy || app.strategy === 'branch' || app.strategy === 'directory') return sha;
  // Image apps: the engine's commit is on the version branch; the applier follows the GitOps
  // branch, where the write is the commit carrying the operation's trailer.
  const gitops = (runtime.git.get(op.app) as ImageHost | undefined)?.gitops;
  const branch = app.gitops?.branch ?? 'main';
  if (!gitops?.mirror) return null;
  const found = await gitops.mirror
    .raw(['log', '-n', '1', '--format=%H', '--fixed-strings', `--grep=Conveyor-Operation: ${op.id}`, branch])
    .catch(() => '');
  return found.trim() || null;
}

/** The image strategy's host (src/adapters/image-env-host.ts), seen from here. */
type ImageHost = { gitops?: GitHost & { mirror?: { raw(args: string[]): Promise<string> } } };

/** Is `reported` our commit or one that contains it (a later push on the same branch)? */
async function covers(host: GitHost | undefined, ours: string, reported: string | null): Promise<boolean> {
  if (!reported) return false;
  if (reported === ours || (reported.length >= 7 && ours.startsWith(reported))) return true;
  if (!/^[0-9a-f]{40}$/.test(reported) || !host) return false;
  return host.isAncestor(ours, reported).catch(() => false);
}

/** A HelmRelease from a Git chart with reconcileStrategy Revision: `1.2.0+<sha12>`. */
function helmRevision(revision: unknown): string | null {
  const m = typeof revision === 'string' ? /\+([0-9a-f]{12,40})$/.exec(revision) : null;
  return m ? m[1]! : null; // the regex matched: group 1 is set
}

export async function applierVerdict(
  runtime: Runtime,
  op: Operation,
  target: AppTarget,
  obj: KubeObject | null | undefined,
): Promise<ApplierVerdict | null> {
  const applier = target.applier;
  if (!applier) return null;
  const ours = await ourRevision(runtime, op);
  if (!obj) {
    return {
      state: 'waiting',
      detail: `${applier.kind} ${applier.namespace}/${applier.name} not found`,
      ours,
    };
  }
  if (!ours) return { state: 'waiting', detail: 'the commit written is not known yet', ours };
  const app = runtime.config.apps.find((a) => a.name === op.app);
  const host =
    app?.strategy === 'image' ? (runtime.git.get(op.app) as ImageHost | undefined)?.gitops : runtime.git.get(op.app);

  // What the applier reports: its synced / applied revision, and the one it last tried.
  let reported: string | null;
  let attempted: string | null;
  if (obj.kind === 'Application') {
    reported = obj.status?.sync?.revision ?? obj.status?.sync?.revisions?.[0] ?? null;
    attempted =
      obj.status?.operationState?.syncResult?.revision ?? obj.status?.operationState?.operation?.sync?.revision ?? null;
  } else if (obj.kind === 'HelmRelease') {
    reported = helmRevision(obj.status?.lastAppliedRevision) ?? helmRevision(obj.status?.history?.[0]?.chartVersion);
    attempted = helmRevision(obj.status?.lastAttemptedRevision);
  } else {
    reported = revisionSha(obj.status?.lastAppliedRevision);
    attempted = revisionSha(obj.status?.lastAttemptedRevision);
  }
  const reportsOurs = await covers(host, ours, reported);
  const triedOurs = reportsOurs || (await covers(host, ours, attempted));
  // A HelmRelease whose chart version names no commit cannot say which commit it runs: its Ready stands.
  const want = obj.kind === 'HelmRelease' && !reported ? undefined : reportsOurs ? (reported ?? ours) : ours;
  const state = applierState(obj, want);
  if (state.state === 'failed') {
    if (triedOurs) return { state: 'failed', detail: state.detail, ours };
    return { state: 'waiting', detail: `${state.detail} (not yet ${short(ours)})`, ours };
  }
  // applierState does not compare a HelmRelease's revision (a chart version): do it here.
  if (obj.kind === 'HelmRelease' && reported && !reportsOurs) {
    return {
      state: 'waiting',
      detail: `${state.detail}, chart from ${short(reported)}, waiting for ${short(ours)}`,
      ours,
    };
  }
  if (state.deployed) return { state: 'deployed', detail: state.detail, ours };
  return { state: 'waiting', detail: state.detail, ours };
}
