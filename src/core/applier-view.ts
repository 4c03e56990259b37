/**
 * The GitOps applier's view of an environment (Argo CD / Flux: synced revision, health), as the
 * controller stores it at the head of a live state's detail (src/controller/live-reconciler.ts):
 * `Argo CD argocd/api-qa: synced 1a2b3c4d and healthy; 2/2 available … (cluster …)`.
 */
export function applierView(detail: string | undefined | null): string | null {
  const m = /^((?:Argo CD|Flux) [^;]*)(?:;|$)/.exec(detail ?? '');
  return m ? m[1]!.replace(/ \(cluster [^)]*\)$/, '') : null; // the regex matched: group 1 is set
}
