/**
 * Render every kustomization under manifests/ as a user would: `kubectl kustomize` (kubectl's
 * built-in kustomize). Where kubectl is missing, the strict in-repo renderer
 * (test/support/kustomize.ts) stands in and the reason is printed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { findKustomizations, type K8sObject, renderKustomization } from '../../support/kustomize.js';

export type { K8sObject };

export interface Render {
  /** Path of the kustomization folder, relative to manifests/. */
  name: string;
  objects: K8sObject[];
}

function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** SYSTEM_TEST_RENDERER=in-repo forces the fallback (to check it where kubectl exists). */
export const renderer: 'kubectl' | 'in-repo' =
  process.env.SYSTEM_TEST_RENDERER !== 'in-repo' && kubectlAvailable() ? 'kubectl' : 'in-repo';
if (renderer === 'in-repo') {
  console.warn(
    'rendering manifests/ with test/support/kustomize.ts: kubectl is not installed (or SYSTEM_TEST_RENDERER=in-repo)',
  );
}

export function renderDir(dir: string): K8sObject[] {
  if (renderer === 'in-repo') return renderKustomization(dir);
  const text = execFileSync('kubectl', ['kustomize', dir], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/**
 * The kustomizations a user applies: those no other kustomization takes in as a resource
 * (overlays, and bases nobody builds on).
 */
export function leafKustomizations(root: string): string[] {
  const all = findKustomizations(root);
  const used = new Set<string>();
  for (const dir of all) {
    const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] } | null;
    for (const r of k?.resources ?? []) used.add(resolve(dir, r));
  }
  return all.filter((d) => !used.has(d));
}

export function renderLeaves(root: string): Render[] {
  return leafKustomizations(root).map((dir) => ({ name: relative(root, dir), objects: renderDir(dir) }));
}
