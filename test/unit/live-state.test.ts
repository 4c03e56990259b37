import { describe, expect, it } from 'vitest';
import { deriveLiveState, imagesFromManifests } from '../../src/controller/live-state.js';
import { InputError } from '../../src/core/errors.js';
import type { WorkloadStatus } from '../../src/core/ports.js';

function status(over: Partial<WorkloadStatus> = {}): WorkloadStatus {
  return {
    cluster: 'prod-eu',
    namespace: 'shop',
    name: 'web',
    images: ['ghcr.io/acme/web:1.2.0'],
    generation: 3,
    observedGeneration: 3,
    replicas: 3,
    updatedReplicas: 3,
    availableReplicas: 3,
    conditions: [
      { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
      { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
    ],
    exists: true,
    ...over,
  };
}

describe('deriveLiveState', () => {
  it('is unknown without a report or when the deployment is gone', () => {
    expect(deriveLiveState(undefined, undefined).state).toBe('unknown');
    const gone = deriveLiveState(status({ exists: false }), ['x']);
    expect(gone.state).toBe('unknown');
    expect(gone.detail).toContain('shop/web');
  });

  it('is healthy when the rollout is complete and images match', () => {
    const s = deriveLiveState(status(), ['ghcr.io/acme/web:1.2.0']);
    expect(s.state).toBe('healthy');
    expect(s.detail).toContain('3/3');
  });

  it('is healthy when the desired images are not known', () => {
    expect(deriveLiveState(status(), undefined).state).toBe('healthy');
  });

  it('is progressing while the new spec is not yet observed', () => {
    expect(deriveLiveState(status({ generation: 4 }), undefined).state).toBe('progressing');
  });

  it('is progressing while replicas are being updated or becoming available', () => {
    const updating = deriveLiveState(status({ updatedReplicas: 1 }), undefined);
    expect(updating).toEqual({ state: 'progressing', detail: '1 of 3 replicas updated' });
    const starting = deriveLiveState(status({ availableReplicas: 2 }), undefined);
    expect(starting).toEqual({ state: 'progressing', detail: '2 of 3 updated replicas available' });
  });

  it('is failed when the progress deadline was exceeded, with the reason', () => {
    const s = deriveLiveState(
      status({
        updatedReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "web-5d9" has timed out progressing.',
          },
        ],
      }),
      ['ghcr.io/acme/web:1.3.0'],
    );
    expect(s.state).toBe('failed');
    expect(s.detail).toContain('has timed out progressing');
  });

  it('ignores a stale deadline condition once a newer spec is pending', () => {
    const s = deriveLiveState(
      status({
        generation: 5,
        observedGeneration: 4,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      }),
      undefined,
    );
    expect(s.state).toBe('progressing');
  });

  it('is drifted when the rollout is complete but the cluster runs other images', () => {
    const s = deriveLiveState(status({ images: ['ghcr.io/acme/web:1.1.9'] }), ['ghcr.io/acme/web:1.2.0']);
    expect(s.state).toBe('drifted');
    expect(s.detail).toContain('1.1.9');
    expect(s.detail).toContain('1.2.0');
  });

  it('compares images regardless of container order', () => {
    const live = status({ images: ['envoy:1', 'web:2'] });
    expect(deriveLiveState(live, ['web:2', 'envoy:1']).state).toBe('healthy');
    expect(deriveLiveState(live, ['web:2']).state).toBe('drifted');
  });
});

const MANIFESTS = `# app manifests
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ port: 80 }] }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: ghcr.io/acme/worker:2.0.0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/migrate:1.2.0
      containers:
        - name: web
          image: ghcr.io/acme/web:1.2.0
        - name: envoy
          image: envoyproxy/envoy:v1.30.1
---
`;

describe('imagesFromManifests', () => {
  it('extracts the images of the named Deployment from a multi-document file', () => {
    expect(imagesFromManifests(MANIFESTS, 'web')).toEqual([
      'ghcr.io/acme/migrate:1.2.0',
      'ghcr.io/acme/web:1.2.0',
      'envoyproxy/envoy:v1.30.1',
    ]);
    expect(imagesFromManifests(MANIFESTS, 'worker')).toEqual(['ghcr.io/acme/worker:2.0.0']);
  });

  it('returns nothing when the Deployment is not there (a Service of that name does not count)', () => {
    expect(imagesFromManifests(MANIFESTS, 'api')).toEqual([]);
    expect(imagesFromManifests('', 'web')).toEqual([]);
    expect(imagesFromManifests('kind: Service\nmetadata: {name: web}\n', 'web')).toEqual([]);
  });

  it('looks inside a kind: List', () => {
    const list = `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: web }
    spec: { template: { spec: { containers: [{ name: web, image: "web:9" }] } } }
`;
    expect(imagesFromManifests(list, 'web')).toEqual(['web:9']);
  });

  it('rejects malformed YAML with an input error', () => {
    expect(() => imagesFromManifests('kind: Deployment\n  bad: [unclosed\n', 'web')).toThrow(InputError);
  });
});
