/**
 * What an app target (apps[].targets.<env>) says about how its environment is applied and what
 * runs there, beyond the cluster and namespace:
 * - `kind`: the kind of its workloads, Deployment (default), StatefulSet, DaemonSet or an Argo
 *   Rollouts Rollout;
 * - `applier`: the GitOps applier that syncs the environment from Git, an Argo CD Application or
 *   a Flux Kustomization / HelmRelease. With one, an operation counts as deployed only when the
 *   applier reports the commit the operation wrote as synced and healthy; with `refresh: true`
 *   the applier is asked to look at Git right after the write (Argo CD's refresh annotation,
 *   Flux's `reconcile.fluxcd.io/requestedAt`).
 */
import { z } from 'zod';

/** A Kubernetes object name (DNS subdomain). */
const objectName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes object name');
const namespace = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace');

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout'] as const;
export type WorkloadKindName = (typeof WORKLOAD_KINDS)[number];

export const APPLIER_KINDS = ['argocd-application', 'flux-kustomization', 'flux-helmrelease'] as const;
export type ApplierKindName = (typeof APPLIER_KINDS)[number];

export const applierSchema = z
  .object({
    kind: z.enum(APPLIER_KINDS, {
      error: 'one of argocd-application, flux-kustomization, flux-helmrelease',
    }),
    /** The Application / Kustomization / HelmRelease's name. */
    name: objectName,
    /** Its namespace (Argo CD's is usually `argocd`, Flux's `flux-system`). */
    namespace,
    /** Ask the applier to act right after the Git write (needs `patch` on the kind, see manifests/). */
    refresh: z.boolean().default(false),
  })
  .strict();

export type ApplierConfig = z.infer<typeof applierSchema>;

/** Spread into the target object of src/config/schema.ts. */
export const targetApplierFields = {
  kind: z.enum(WORKLOAD_KINDS, { error: 'one of Deployment, StatefulSet, DaemonSet, Rollout' }).default('Deployment'),
  applier: applierSchema.optional(),
};
