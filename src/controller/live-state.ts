/**
 * What a workload is really doing, from what the cluster reports and what Git asks for.
 * The rollout rules follow `kubectl rollout status` for Deployments.
 */
import { parseAllDocuments } from 'yaml';
import { InputError } from '../core/errors.js';
import type { WorkloadStatus } from '../core/ports.js';

export type LiveStateName = 'healthy' | 'progressing' | 'failed' | 'drifted' | 'unknown';

export interface LiveState {
  state: LiveStateName;
  detail: string;
}

function sameImages(a: string[], b: string[]): boolean {
  const [x, y] = [[...a].sort(), [...b].sort()];
  return x.length === y.length && x.every((img, i) => img === y[i]);
}

export function deriveLiveState(status: WorkloadStatus | undefined, desiredImages: string[] | undefined): LiveState {
  if (!status) return { state: 'unknown', detail: 'no report from the cluster yet' };
  if (!status.exists) return { state: 'unknown', detail: `deployment ${status.namespace}/${status.name} not found` };

  if (status.observedGeneration < status.generation) {
    return { state: 'progressing', detail: 'waiting for the deployment spec update to be observed' };
  }
  const progressing = status.conditions.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    const why = progressing.message ? `: ${progressing.message}` : '';
    return { state: 'failed', detail: `rollout exceeded its progress deadline${why}` };
  }
  const want = status.replicas;
  if (status.updatedReplicas < want) {
    return { state: 'progressing', detail: `${status.updatedReplicas} of ${want} replicas updated` };
  }
  if (status.availableReplicas < want) {
    return {
      state: 'progressing',
      detail: `${status.availableReplicas} of ${want} updated replicas available`,
    };
  }
  if (desiredImages && desiredImages.length > 0 && !sameImages(status.images, desiredImages)) {
    return {
      state: 'drifted',
      detail: `running ${status.images.join(', ') || 'no image'}, Git wants ${desiredImages.join(', ')}`,
    };
  }
  const images = status.images.join(', ');
  return { state: 'healthy', detail: `${want}/${want} available${images ? ` running ${images}` : ''}` };
}

type Node = Record<string, unknown> | undefined;

function imagesOf(deployment: Node): string[] {
  const podSpec = ((deployment?.spec as Node)?.template as Node)?.spec as Node;
  const containers = [
    ...((podSpec?.initContainers as Node[] | undefined) ?? []),
    ...((podSpec?.containers as Node[] | undefined) ?? []),
  ];
  return containers.map((c) => c?.image).filter((i): i is string => typeof i === 'string');
}

function findDeployment(node: Node, name: string, kind = 'Deployment'): Node | undefined {
  if (!node || typeof node !== 'object') return undefined;
  if (node.kind === kind && (node.metadata as Node)?.name === name) return node;
  if (node.kind === 'List' && Array.isArray(node.items)) {
    for (const item of node.items as Node[]) {
      const found = findDeployment(item, name, kind);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Container images (init containers first) of the Deployment `deploymentName` (or the workload
 * of `kind`) in a multi-document YAML; [] when it is not there. InputError when the YAML is malformed.
 */
export function imagesFromManifests(yamlText: string, deploymentName: string, kind = 'Deployment'): string[] {
  for (const doc of parseAllDocuments(yamlText)) {
    const [error] = doc.errors;
    if (error) throw new InputError(`invalid manifest YAML: ${error.message.split('\n')[0]}`);
    const found = findDeployment(doc.toJS() as Node, deploymentName, kind);
    if (found) return imagesOf(found);
  }
  return [];
}
