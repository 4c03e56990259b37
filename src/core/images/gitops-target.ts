/**
 * Where an image app's version lives for one environment: the file in the GitOps repository and
 * the field in it, from the app's `gitops:` settings.
 */
import type { AppConfig } from '../../config/schema.js';
import { NotFoundError } from '../errors.js';
import type { ImageFieldSpec } from './image-field.js';

export interface GitopsTarget {
  /** `overlays/staging/kustomization.yaml` */
  file: string;
  spec: ImageFieldSpec;
}

const DEFAULT_FILE = { kustomize: 'kustomization.yaml', 'helm-values': 'values.yaml', 'yaml-path': 'deployment.yaml' };

export function gitopsTarget(app: AppConfig, env: string): GitopsTarget {
  const gitops = app.gitops;
  const folder = gitops?.paths[env];
  if (!gitops || folder === undefined) throw new NotFoundError(`${app.name} has no GitOps path for ${env}`);
  const format = gitops.format;
  const file = `${folder.replace(/\/+$/, '')}/${gitops.file ?? DEFAULT_FILE[format]}`;
  if (format === 'kustomize')
    return { file, spec: { format, image: gitops.imageName ?? app.image?.repository ?? app.name } };
  if (format === 'helm-values') {
    const spec: ImageFieldSpec = { format, tagPath: gitops.tagPath ?? 'image.tag' };
    if (gitops.digestPath) spec.digestPath = gitops.digestPath;
    return { file, spec };
  }
  return { file, spec: { format, path: gitops.path ?? 'spec.template.spec.containers[0].image' } };
}

/** The branch that records an environment's image versions in the GitOps repository. */
export function versionBranch(app: string, env: string): string {
  return `conveyor/${app}/${env}`;
}
