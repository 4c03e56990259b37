/**
 * A GitOps repository as a team would keep it: a Kustomize base (Deployment + Service) and one
 * overlay per environment whose `images:` entry pins the app's image, with comments a person
 * wrote. Made as a real bare repository; `renderOverlay` runs `kubectl kustomize` on a checkout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const gitEnv = () => ({ ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });

export const KUBECTL = '/usr/bin/kubectl';

export function overlayText(env: string, image: string, tag: string, digest: string): string {
  return `# ${env} overlay of the worker — edited by people and by Conveyor.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - ../../base # Deployment + Service

namespace: worker-${env}

images:
  - name: ${image} # Conveyor writes newTag and digest
    newTag: "${tag}"
    digest: ${digest}

labels:
  - pairs: { env: ${env} }
`;
}

const BASE_DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: 1
  selector:
    matchLabels: { app: worker }
  template:
    metadata:
      labels: { app: worker }
    spec:
      containers:
        - name: worker
          image: IMAGE
`;

export function createGitopsRepo(
  dir: string,
  options: { image: string; envs: string[]; tag: string; digest: string },
): string {
  const bare = join(dir, 'gitops.git');
  const work = mkdtempSync(join(tmpdir(), 'conveyor-gitops-work-'));
  const run = (...args: string[]) =>
    execFileSync('git', args, { cwd: work, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(work, path)), { recursive: true });
      writeFileSync(join(work, path), text);
    };
    write('base/deployment.yaml', BASE_DEPLOYMENT.replace('IMAGE', options.image));
    write('base/kustomization.yaml', 'resources:\n  - deployment.yaml\n');
    for (const env of options.envs) {
      write(`overlays/${env}/kustomization.yaml`, overlayText(env, options.image, options.tag, options.digest));
    }
    run('init', '--quiet', '--initial-branch=main');
    run('add', '.');
    run('-c', 'user.name=Platform', '-c', 'user.email=platform@example.com', 'commit', '--quiet', '-m', 'GitOps repo');
    execFileSync('git', ['clone', '--quiet', '--bare', work, bare], { env: gitEnv(), stdio: 'ignore' });
    return bare;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The GitOps repository's file at `main` (or a rev). */
export function showFile(bare: string, path: string, rev = 'main'): string {
  return execFileSync('git', ['--git-dir', bare, 'show', `${rev}:${path}`], { env: gitEnv(), encoding: 'utf8' });
}

/** `kubectl kustomize` of an overlay at `main`; null when kubectl is not on the machine. */
export function renderOverlay(bare: string, overlay: string): string | null {
  if (!existsSync(KUBECTL)) return null;
  const work = mkdtempSync(join(tmpdir(), 'conveyor-gitops-render-'));
  try {
    execFileSync('git', ['clone', '--quiet', bare, work], { env: gitEnv(), stdio: 'ignore' });
    return execFileSync(KUBECTL, ['kustomize', join(work, overlay)], { encoding: 'utf8' });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
