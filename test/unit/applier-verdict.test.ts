/**
 * When an applier's report makes an operation deployed, failed, or still waiting
 * (src/controller/applier-verdict.ts): our commit or a later one containing it, failures of
 * older revisions left alone, Flux's revision forms and a HelmRelease's `+<sha>` chart version.
 */
import { describe, expect, it } from 'vitest';
import { applierVerdict } from '../../src/controller/applier-verdict.js';
import type { AppTarget } from '../../src/controller/live-reconciler.js';
import type { Operation } from '../../src/core/operation.js';
import type { Runtime } from '../../src/core/runtime.js';
import { MemoryGitHost } from '../fakes/memory-git-host.js';

const host = new MemoryGitHost();
const OLD = host.commit_('t0');
const OURS = host.commit_('t1', [OLD]);
const LATER = host.commit_('t2', [OURS]);
const runtime = {
  config: { apps: [{ name: 'api', repo: 'acme/api', targets: {} }] },
  git: new Map([['api', host]]),
} as unknown as Runtime;
const op = {
  id: 'op_1',
  kind: 'promote',
  app: 'api',
  env: 'qa',
  plan: { branch: 'qa', mode: 'fast-forward', sourceSha: OURS },
  progress: { newSha: OURS },
} as unknown as Operation;
const target = (kind: 'argocd-application' | 'flux-kustomization' | 'flux-helmrelease'): AppTarget => ({
  app: 'api',
  env: 'qa',
  cluster: 'eu',
  namespace: 'qa',
  workloads: ['api'],
  manifests: 'k8s/deployment.yaml',
  kind: 'Deployment',
  applier: { kind, name: 'api-qa', namespace: 'gitops', refresh: false },
});
const T = '2026-11-26T00:00:00Z';
const argo = (revision: string, sync: string, health: string, message?: string) => ({
  kind: 'Application',
  metadata: { name: 'api-qa', namespace: 'argocd' },
  status: { sync: { status: sync, revision }, health: { status: health, ...(message ? { message } : {}) } },
});
const flux = (
  kind: string,
  applied: string,
  attempted: string,
  ready: 'True' | 'False',
  reason: string,
  message: string,
) => ({
  kind,
  metadata: { name: 'api-qa', namespace: 'flux-system', generation: 2 },
  status: {
    observedGeneration: 2,
    lastAppliedRevision: applied,
    lastAttemptedRevision: attempted,
    conditions: [{ type: 'Ready', status: ready, reason, message, lastTransitionTime: T }],
  },
});

describe('applier verdicts', () => {
  it('Argo CD: deployed on our commit or a later one, waiting on an older one, failed only when Degraded on ours', async () => {
    const v = (obj: object) => applierVerdict(runtime, op, target('argocd-application'), obj);
    expect(await v(argo(OLD, 'Synced', 'Healthy'))).toMatchObject({ state: 'waiting' });
    expect(await v(argo(OURS, 'OutOfSync', 'Healthy'))).toMatchObject({ state: 'waiting' });
    expect(await v(argo(OURS, 'Synced', 'Progressing'))).toMatchObject({ state: 'waiting' });
    expect(await v(argo(OURS, 'Synced', 'Healthy'))).toMatchObject({ state: 'deployed' });
    expect(await v(argo(LATER, 'Synced', 'Healthy'))).toMatchObject({ state: 'deployed' });
    expect(await v(argo(OLD, 'Synced', 'Degraded', 'old pods'))).toMatchObject({ state: 'waiting' });
    expect(await v(argo(OURS, 'Synced', 'Degraded', 'CrashLoopBackOff'))).toEqual({
      state: 'failed',
      detail: 'Argo CD argocd/api-qa: degraded: CrashLoopBackOff',
      ours: OURS,
    });
    expect(await v(null as unknown as object)).toMatchObject({
      state: 'waiting',
      detail: 'argocd-application gitops/api-qa not found',
    });
  });

  it('Flux Kustomization: both revision forms; a failed attempt at our commit fails, at another waits', async () => {
    const v = (obj: object) => applierVerdict(runtime, op, target('flux-kustomization'), obj);
    const k = (
      applied: string,
      attempted = applied,
      ready: 'True' | 'False' = 'True',
      reason = 'ReconciliationSucceeded',
    ) =>
      flux(
        'Kustomization',
        applied,
        attempted,
        ready,
        reason,
        ready === 'True' ? `Applied revision: ${applied}` : 'health check failed',
      );
    expect(await v(k(`qa@sha1:${OURS}`))).toMatchObject({ state: 'deployed' });
    expect(await v(k(OURS))).toMatchObject({ state: 'deployed' });
    expect(await v(k(`qa@sha1:${OLD}`))).toMatchObject({ state: 'waiting' });
    expect(await v(k(`qa@sha1:${OLD}`, `qa@sha1:${OURS}`, 'False', 'HealthCheckFailed'))).toMatchObject({
      state: 'failed',
      detail: 'Flux Kustomization flux-system/api-qa: HealthCheckFailed: health check failed',
    });
    expect(await v(k(`qa@sha1:${OLD}`, `qa@sha1:${OLD}`, 'False', 'HealthCheckFailed'))).toMatchObject({
      state: 'waiting',
    });
  });

  it("HelmRelease: matched by the chart version's +<sha> when Flux adds one", async () => {
    // (the in-memory host's shas share their first digits: full shas here)
    const v = (obj: object) => applierVerdict(runtime, op, target('flux-helmrelease'), obj);
    const h = (version: string) =>
      flux(
        'HelmRelease',
        version,
        version,
        'True',
        'UpgradeSucceeded',
        `Helm upgrade succeeded for release qa/api.v2 with chart api@${version}`,
      );
    expect(await v(h(`1.0.0+${OURS}`))).toMatchObject({ state: 'deployed' });
    expect(await v(h(`1.0.0+${OLD}`))).toMatchObject({ state: 'waiting' });
  });
});
