/** apps[].targets.<env>.kind and .applier in conveyor.yaml: defaults, and one-line refusals naming the field. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';

const ENVS = `environments:
  - { name: development, branch: develop }
  - { name: qa, branch: qa }
`;
const app = (qa: string) => `${ENVS}apps:
  - name: api
    repo: acme/api
    targets:
      development: { cluster: eu, namespace: dev, workloads: [api] }
      qa: ${qa}
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

describe('targets: workload kind and GitOps applier', () => {
  it('defaults to Deployments and no applier, as before', () => {
    const config = parseConfig(app('{ cluster: eu, namespace: qa, workloads: [api] }'));
    expect(config.apps[0]?.targets.qa).toEqual({
      cluster: 'eu',
      namespace: 'qa',
      workloads: ['api'],
      kind: 'Deployment',
    });
  });

  it('takes an Argo CD Application or a Flux Kustomization, refresh off unless asked', () => {
    const argo = parseConfig(
      app(
        '{ cluster: eu, namespace: qa, workloads: [api], kind: Rollout, applier: { kind: argocd-application, name: api-qa, namespace: argocd, refresh: true } }',
      ),
    );
    expect(argo.apps[0]?.targets.qa).toMatchObject({
      kind: 'Rollout',
      applier: { kind: 'argocd-application', name: 'api-qa', namespace: 'argocd', refresh: true },
    });
    const flux = parseConfig(
      app(
        '{ cluster: eu, namespace: qa, workloads: [api], applier: { kind: flux-kustomization, name: api-qa, namespace: flux-system } }',
      ),
    );
    expect(flux.apps[0]?.targets.qa?.applier).toEqual({
      kind: 'flux-kustomization',
      name: 'api-qa',
      namespace: 'flux-system',
      refresh: false,
    });
  });

  it('refuses nonsense with one line naming the field', () => {
    const lines = [
      ...problems(app('{ cluster: eu, namespace: qa, workloads: [api], kind: Pod }')),
      ...problems(
        app('{ cluster: eu, namespace: qa, workloads: [api], applier: { kind: spinnaker, name: a, namespace: b } }'),
      ),
      ...problems(
        app(
          '{ cluster: eu, namespace: qa, workloads: [api], applier: { kind: argocd-application, name: Api_QA, namespace: argocd } }',
        ),
      ),
      ...problems(
        app('{ cluster: eu, namespace: qa, workloads: [api], applier: { kind: flux-kustomization, name: api } }'),
      ),
      ...problems(
        app(
          '{ cluster: eu, namespace: qa, workloads: [api], applier: { kind: flux-kustomization, name: api, namespace: flux-system, refresh: yes please } }',
        ),
      ),
      ...problems(
        app(
          '{ cluster: eu, namespace: qa, workloads: [api], applier: { kind: flux-kustomization, name: api, namespace: flux-system, sync: true } }',
        ),
      ),
    ];
    for (const line of lines) expect(line).not.toContain('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^apps\[0\]\.targets\.qa\.kind: one of Deployment, StatefulSet, DaemonSet, Rollout/),
      expect.stringMatching(
        /^apps\[0\]\.targets\.qa\.applier\.kind: one of argocd-application, flux-kustomization, flux-helmrelease/,
      ),
      expect.stringMatching(/^apps\[0\]\.targets\.qa\.applier\.name: a Kubernetes object name/),
      expect.stringMatching(/^apps\[0\]\.targets\.qa\.applier\.namespace: /),
      expect.stringMatching(/^apps\[0\]\.targets\.qa\.applier\.refresh: /),
      expect.stringMatching(/^apps\[0\]\.targets\.qa\.applier: .*sync/),
    ]);
  });
});
