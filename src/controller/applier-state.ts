/**
 * Live state beyond Deployments: what a GitOps applier says of an environment (an Argo CD
 * `Application`, a Flux `Kustomization` or `HelmRelease`) and how a StatefulSet, DaemonSet or
 * Argo Rollouts `Rollout` is rolling out. Pure functions over the objects as the API serves them
 * (read by src/adapters/kube-appliers.ts); the states are the ones of ./live-state.ts.
 *
 * An applier counts an operation as deployed (`deployed: true`) only when it reports our
 * revision synced (Argo CD) or applied (Flux) and healthy (Argo CD health / Flux Ready).
 */
import type { LiveState } from './live-state.js';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON as served
type Obj = Record<string, any>;

export type ApplierKind = 'Application' | 'Kustomization' | 'HelmRelease';
export type WorkloadKind = 'StatefulSet' | 'DaemonSet' | 'Rollout';

export interface ApplierState extends LiveState {
  /** The revision the applier reports (a commit sha for Git sources), or null. */
  revision: string | null;
  /** Our revision synced/applied and healthy. */
  deployed: boolean;
}

const short = (s: string) => (/^[0-9a-f]{40}$/.test(s) ? s.slice(0, 8) : s);

/** `main@sha1:<sha>` (Flux ≥ 2.0), `main/<sha>` (older), `sha1:<sha>` or a bare sha → the sha; else as given. */
export function revisionSha(revision: string | undefined | null): string | null {
  if (!revision) return null;
  const m = /(?:^|[@/:])([0-9a-f]{40})$/.exec(revision);
  return m ? m[1]! : revision; // the regex matched 40 hex digits: group 1 is set
}

function matches(reported: string | null, want: string | undefined): boolean {
  if (!want) return true;
  if (!reported) return false;
  return reported === want || (want.length >= 7 && reported.startsWith(want));
}

/** An Argo CD Application: sync status and revision, health, the last operation. */
export function argoApplicationState(app: Obj, want?: string): ApplierState {
  const name = `${app?.metadata?.namespace ?? ''}/${app?.metadata?.name ?? '?'}`;
  const status: Obj | undefined = app?.status;
  const sync: string | undefined = status?.sync?.status;
  const revision: string | null = status?.sync?.revision ?? status?.sync?.revisions?.[0] ?? null;
  const health: string | undefined = status?.health?.status;
  const out = (state: LiveState['state'], detail: string, deployed = false): ApplierState => ({
    state,
    detail: `Argo CD ${name}: ${detail}`,
    revision,
    deployed,
  });
  if (!status || (!sync && !health)) return out('unknown', 'no status yet');
  const phase: string | undefined = status.operationState?.phase;
  if (phase === 'Failed' || phase === 'Error') {
    return out(
      'failed',
      `sync ${phase.toLowerCase()}${status.operationState?.message ? `: ${status.operationState.message}` : ''}`,
    );
  }
  if (health === 'Degraded') {
    return out('failed', `degraded${status.health?.message ? `: ${status.health.message}` : ''}`);
  }
  if (!matches(revision, want)) {
    return out(
      'progressing',
      `synced ${revision ? short(revision) : 'nothing'} so far, waiting for ${short(want ?? '')}`,
    );
  }
  if (sync !== 'Synced') return out('progressing', `${sync === 'OutOfSync' ? 'out of sync' : 'sync status unknown'}`);
  if (health === 'Healthy') return out('healthy', `synced ${revision ? short(revision) : ''} and healthy`.trim(), true);
  if (health === 'Suspended') return out('progressing', 'synced, suspended');
  return out('progressing', `synced, ${health ? health.toLowerCase() : 'health unknown'}`);
}

function condition(obj: Obj, type: string): Obj | undefined {
  return (obj?.status?.conditions as Obj[] | undefined)?.find((c) => c?.type === type);
}

/** A Flux Kustomization or HelmRelease: the Ready condition and the last applied revision. */
export function fluxState(obj: Obj, want?: string): ApplierState {
  const kind: string = obj?.kind ?? 'Kustomization';
  const name = `${obj?.metadata?.namespace ?? ''}/${obj?.metadata?.name ?? '?'}`;
  // A HelmRelease's revision is its chart version, not a commit: it is not compared.
  const gitRevision = kind !== 'HelmRelease';
  const revision = gitRevision
    ? revisionSha(obj?.status?.lastAppliedRevision)
    : (obj?.status?.lastAppliedRevision ?? null);
  const out = (state: LiveState['state'], detail: string, deployed = false): ApplierState => ({
    state,
    detail: `Flux ${kind} ${name}: ${detail}`,
    revision,
    deployed,
  });
  if (!obj?.status) return out('unknown', 'no status yet');
  const generation = Number(obj.metadata?.generation ?? 0);
  const observed = Number(obj.status.observedGeneration ?? 0);
  if (observed < generation) return out('progressing', 'waiting for the controller to observe the change');
  const ready = condition(obj, 'Ready');
  const reconciling = condition(obj, 'Reconciling');
  if (!ready || ready.status === 'Unknown' || reconciling?.status === 'True') {
    return out('progressing', ready?.message ? `reconciling: ${ready.message}` : 'reconciling');
  }
  if (ready.status === 'False') {
    if (ready.reason === 'Progressing' || ready.reason === 'DependencyNotReady') {
      return out('progressing', `${ready.reason}${ready.message ? `: ${ready.message}` : ''}`);
    }
    return out('failed', `${ready.reason ?? 'not ready'}${ready.message ? `: ${ready.message}` : ''}`);
  }
  if (gitRevision && !matches(revision, want)) {
    return out(
      'progressing',
      `applied ${revision ? short(revision) : 'nothing'} so far, waiting for ${short(want ?? '')}`,
    );
  }
  return out('healthy', `ready${revision ? `, applied ${short(revision)}` : ''}`, true);
}

export function applierState(obj: Obj, want?: string): ApplierState {
  return obj?.kind === 'Application' ? argoApplicationState(obj, want) : fluxState(obj, want);
}

/** StatefulSet, DaemonSet and Rollout rollouts, by the rules of `kubectl rollout status` (and Argo Rollouts' phase). */
export function workloadState(obj: Obj): LiveState {
  const kind: string = obj?.kind ?? '';
  const name = `${kind} ${obj?.metadata?.namespace ?? ''}/${obj?.metadata?.name ?? '?'}`;
  const status: Obj | undefined = obj?.status;
  if (!status) return { state: 'unknown', detail: `${name}: no status yet` };
  const generation = Number(obj.metadata?.generation ?? 0);
  const observed = Number(status.observedGeneration ?? 0);
  if (Number.isFinite(observed) && observed < generation) {
    return { state: 'progressing', detail: `${name}: waiting for the spec update to be observed` };
  }
  if (kind === 'StatefulSet') {
    if (obj.spec?.updateStrategy?.type === 'OnDelete') {
      return { state: 'unknown', detail: `${name}: OnDelete update strategy, rollout not tracked` };
    }
    const want = Number(obj.spec?.replicas ?? 1);
    const partition = Number(obj.spec?.updateStrategy?.rollingUpdate?.partition ?? 0);
    const ready = Number(status.readyReplicas ?? 0);
    const updated = Number(status.updatedReplicas ?? 0);
    if (ready < want) return { state: 'progressing', detail: `${name}: ${ready} of ${want} pods ready` };
    if (partition > 0) {
      if (updated < want - partition) {
        return { state: 'progressing', detail: `${name}: ${updated} of ${want - partition} partitioned pods updated` };
      }
    } else if (status.updateRevision && status.currentRevision !== status.updateRevision) {
      return { state: 'progressing', detail: `${name}: ${updated} of ${want} pods updated` };
    }
    return { state: 'healthy', detail: `${name}: ${ready}/${want} ready` };
  }
  if (kind === 'DaemonSet') {
    const desired = Number(status.desiredNumberScheduled ?? 0);
    const updated = Number(status.updatedNumberScheduled ?? 0);
    const available = Number(status.numberAvailable ?? 0);
    if (updated < desired) return { state: 'progressing', detail: `${name}: ${updated} of ${desired} pods updated` };
    if (available < desired)
      return { state: 'progressing', detail: `${name}: ${available} of ${desired} pods available` };
    return { state: 'healthy', detail: `${name}: ${available}/${desired} available` };
  }
  if (kind === 'Rollout') {
    const phase: string | undefined = status.phase;
    const message = status.message ? `: ${status.message}` : '';
    if (phase === 'Degraded') return { state: 'failed', detail: `${name}: degraded${message}` };
    if (phase === 'Healthy') return { state: 'healthy', detail: `${name}: healthy` };
    if (phase === 'Paused') return { state: 'progressing', detail: `${name}: paused${message}` };
    return { state: 'progressing', detail: `${name}: ${phase ? phase.toLowerCase() : 'progressing'}${message}` };
  }
  return { state: 'unknown', detail: `${name}: not a kind Conveyor reads` };
}
