/**
 * Everything under manifests/ renders (test/support/kustomize.ts, a strict kustomize subset),
 * every object validates against the Kubernetes schemas (kubernetes-models) and carries no field
 * the API does not know (@kubernetes/client-node's model metadata), and the properties a
 * platform engineer checks before applying hold. The Dockerfile gets simple text checks.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configMapHash, findKustomizations, type K8sObject, renderKustomization } from '../support/kustomize.js';

const root = join(import.meta.dirname, '..', '..');
const manifests = join(root, 'manifests');

/** apiVersion/kind → [schema model, client-node model name for the unknown-field check]. */
const models: Record<string, [new (data: never) => { validate(): void }, string]> = {
  'v1/ServiceAccount': [ServiceAccount, 'V1ServiceAccount'],
  'v1/ConfigMap': [ConfigMap, 'V1ConfigMap'],
  'v1/Secret': [Secret, 'V1Secret'],
  'v1/Service': [Service, 'V1Service'],
  'v1/PersistentVolumeClaim': [PersistentVolumeClaim, 'V1PersistentVolumeClaim'],
  'apps/v1/Deployment': [Deployment, 'V1Deployment'],
  'policy/v1/PodDisruptionBudget': [PodDisruptionBudget, 'V1PodDisruptionBudget'],
  'networking.k8s.io/v1/NetworkPolicy': [NetworkPolicy, 'V1NetworkPolicy'],
  'rbac.authorization.k8s.io/v1/ClusterRole': [ClusterRole, 'V1ClusterRole'],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': [ClusterRoleBinding, 'V1ClusterRoleBinding'],
  'rbac.authorization.k8s.io/v1/Role': [Role, 'V1Role'],
  'rbac.authorization.k8s.io/v1/RoleBinding': [RoleBinding, 'V1RoleBinding'],
};

/** Paths of fields the Kubernetes API does not define (a typo such as `readinesProbe`). */
function strayFields(value: unknown, type: string, path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return (value as unknown[]).flatMap((v, i) => strayFields(v, array[1]!, `${path}[${i}]`));
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value).flatMap(([k, v]) => strayFields(v, map[1]!, `${path}.${k}`));
  const model = (
    k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>
  )[type];
  if (!model?.getAttributeTypeMap) return [];
  const attrs = model.getAttributeTypeMap();
  return Object.entries(value).flatMap(([key, v]) => {
    const attr = attrs.find((a) => a.baseName === key);
    return attr ? strayFields(v, attr.type, `${path}.${key}`) : [`${path}.${key}`];
  });
}

const dirs = findKustomizations(manifests);
const renders = new Map(dirs.map((d) => [relative(manifests, d), renderKustomization(d)]));
const all = [...renders.values()].flat();
const render = (name: string): K8sObject[] => renders.get(name) ?? expect.fail(`no kustomization ${name}`);
const one = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind}/${name ?? '*'}`).toHaveLength(1);
  return found[0]!;
};
const podSpec = (d: K8sObject): K8sObject => d.spec.template.spec;
const containers = (d: K8sObject): K8sObject[] => [...(podSpec(d).initContainers ?? []), ...podSpec(d).containers];
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const roleArn = (objs: K8sObject[]): string =>
  one(objs, 'ServiceAccount').metadata.annotations?.['eks.amazonaws.com/role-arn'];

describe('manifests render and validate', () => {
  it('has the serve base, the production overlay and one overlay per journal client', () => {
    expect([...renders.keys()]).toEqual(
      expect.arrayContaining([
        'base',
        'overlays/production',
        'overlays/journal-agent-qa',
        'overlays/journal-agent-dit',
        'overlays/journal-agent-dev',
        'overlays/journal-watch-dev-modelling',
        'overlays/journal-watch-prod-modelling',
      ]),
    );
  });

  it.each([...renders.keys()])(
    '%s: every object is valid against the Kubernetes schema, with no unknown field',
    (name) => {
      for (const obj of render(name)) {
        // Prometheus Operator objects (manifests/monitoring) have no model here: monitoring.test.ts checks them.
        if (obj.apiVersion === 'monitoring.coreos.com/v1') {
          expect(['ServiceMonitor', 'PodMonitor', 'PrometheusRule']).toContain(obj.kind);
          continue;
        }
        const entry =
          models[`${obj.apiVersion}/${obj.kind}`] ?? expect.fail(`no schema for ${obj.apiVersion} ${obj.kind}`);
        const id = `${obj.kind}/${obj.metadata.name}`;
        expect(() => new entry[0](obj as never).validate(), id).not.toThrow();
        expect(strayFields(obj, entry[1], id)).toEqual([]);
      }
    },
  );

  it('every namespaced object lands in a namespace, and references resolve inside the render', () => {
    for (const [name, objs] of renders) {
      for (const obj of objs.filter((o) => !o.kind.startsWith('Cluster')))
        expect(obj.metadata.namespace, name).toBe('conveyor');
      for (const d of objs.filter((o) => o.kind === 'Deployment')) {
        one(objs, 'ServiceAccount', podSpec(d).serviceAccountName);
        for (const v of podSpec(d).volumes.filter((x: K8sObject) => x.name === 'config')) {
          const cm = one(objs, 'ConfigMap', v.configMap.name);
          expect(cm.metadata.name).toMatch(
            new RegExp(
              `-${configMapHash({ ...cm, metadata: { name: cm.metadata.name.replace(/-[a-z0-9]{10}$/, '') } })}$`,
            ),
          );
          expect(() => parseConfig(cm.data['conveyor.yaml'], `${name} conveyor.yaml`)).not.toThrow();
        }
        for (const kind of ['Service', 'PodDisruptionBudget', 'NetworkPolicy']) {
          for (const o of objs.filter((x) => x.kind === kind)) {
            const selector = o.spec.selector?.matchLabels ?? o.spec.podSelector?.matchLabels ?? o.spec.selector;
            expect(matches(selector, d.spec.template.metadata.labels), `${name} ${kind} selects the pods`).toBe(true);
          }
        }
      }
    }
  });
});

describe('what a platform engineer checks', () => {
  const deployments = all.filter((o) => o.kind === 'Deployment');

  it('every container runs non-root, read-only, without privilege escalation or capabilities', () => {
    expect(deployments.length).toBeGreaterThanOrEqual(dirs.filter((d) => !d.endsWith('/monitoring')).length);
    for (const d of deployments) {
      const pod = podSpec(d);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      for (const c of containers(d)) {
        const sc = c.securityContext;
        expect(sc.runAsNonRoot ?? pod.securityContext.runAsNonRoot).toBe(true);
        expect(sc.runAsUser ?? pod.securityContext.runAsUser).toBeGreaterThan(0);
        expect(sc.readOnlyRootFilesystem).toBe(true);
        expect(sc.allowPrivilegeEscalation).toBe(false);
        expect(sc.privileged ?? false).toBe(false);
        expect(sc.capabilities.drop).toEqual(['ALL']);
        expect(sc.capabilities.add ?? []).toEqual([]);
        expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits.memory).toEqual(expect.any(String));
        expect(c.image).toMatch(/^[\w./-]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/);
        expect(c.image).not.toMatch(/:latest$/);
        const mounts = new Map(c.volumeMounts.map((m: K8sObject) => [m.mountPath, m.name]));
        for (const path of ['/tmp', '/app/.conveyor']) {
          const volume = pod.volumes.find((v: K8sObject) => v.name === mounts.get(path));
          expect(volume?.emptyDir, `${d.metadata.name}: ${path} is a writable emptyDir`).toBeDefined();
        }
      }
      expect(pod.hostNetwork ?? false).toBe(false);
      expect(pod.terminationGracePeriodSeconds).toBe(30);
    }
  });

  it('secrets are only referenced: no Secret carries data, no secret value is inlined', () => {
    for (const s of all.filter((o) => o.kind === 'Secret')) {
      expect(s.data ?? {}).toEqual({});
      expect(s.stringData ?? {}).toEqual({});
    }
    const secretish = /TOKEN|SECRET|PASSWORD|PRIVATE_KEY|ACCESS_KEY|DATABASE_URL/;
    for (const d of deployments) {
      for (const c of containers(d)) {
        for (const e of c.env ?? []) {
          if (!secretish.test(e.name)) continue;
          if (e.name.endsWith('_FILE')) {
            // A path to a key of a mounted Secret, in a file named like the variable.
            const key = e.name.slice(0, -'_FILE'.length);
            const mount = c.volumeMounts.find((m: K8sObject) => e.value.startsWith(`${m.mountPath}/`));
            const volume = podSpec(d).volumes.find((v: K8sObject) => v.name === mount?.name);
            expect(volume?.secret?.items, `${e.name} points into a Secret volume`).toContainEqual({
              key,
              path: e.value.slice(mount.mountPath.length + 1),
            });
            expect(mount.readOnly).toBe(true);
            continue;
          }
          expect(e.value, `${e.name} must not be inlined`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef?.key, e.name).toBe(e.name);
        }
      }
    }
    const serveEnv = containers(one(render('base'), 'Deployment', 'conveyor'))[0]!.env.map((e: K8sObject) => e.name);
    expect(serveEnv).toEqual(
      expect.arrayContaining(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'GITHUB_WEBHOOK_SECRET', 'DATABASE_URL']),
    );
  });

  it('RBAC grants get/list/watch on deployments and get/create/update on leases, nothing more (the Job role ships unbound)', () => {
    const read = ['get', 'list', 'watch'];
    const clusterGrants: Record<string, string[]> = {
      'apps/deployments': read,
      'coordination.k8s.io/leases': ['get', 'create', 'update'],
      // Appliers and the other workload kinds (targets.<env>.applier / .kind): read only.
      'argoproj.io/applications': read,
      'argoproj.io/rollouts': read,
      'kustomize.toolkit.fluxcd.io/kustomizations': read,
      'helm.toolkit.fluxcd.io/helmreleases': read,
      'apps/statefulsets': read,
      'apps/daemonsets': read,
    };
    // The appliers' refresh: patch on the applier kinds only, unbound (bound where refresh is used).
    const refreshRole: Record<string, string[]> = {
      'argoproj.io/applications': ['patch'],
      'kustomize.toolkit.fluxcd.io/kustomizations': ['patch'],
      'helm.toolkit.fluxcd.io/helmreleases': ['patch'],
    };
    expect(one(render('base'), 'ClusterRole', 'conveyor-applier-refresh').rules).toHaveLength(3);
    expect(all.filter((o) => o.kind.endsWith('RoleBinding') && o.roleRef.name === 'conveyor-applier-refresh')).toEqual(
      [],
    );
    // Reading the appliers is bound cluster-wide, like the Deployments.
    one(render('base'), 'ClusterRoleBinding', 'conveyor-applier-reader');
    // Verification Jobs: a ClusterRole an operator binds per namespace; nothing here binds it.
    const jobRole: Record<string, string[]> = {
      'batch/jobs': ['get', 'create', 'delete'],
      '/pods': ['list'],
      '/pods/log': ['get'],
    };
    const roles = all.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
    expect(roles.length).toBeGreaterThan(0);
    expect(all.filter((o) => o.kind.endsWith('RoleBinding') && o.roleRef.name === 'conveyor-verify-jobs')).toEqual([]);
    for (const role of roles) {
      const allowed =
        role.metadata.name === 'conveyor-verify-jobs'
          ? jobRole
          : role.metadata.name === 'conveyor-applier-refresh'
            ? refreshRole
            : clusterGrants;
      for (const rule of role.rules) {
        expect(rule.nonResourceURLs ?? []).toEqual([]);
        expect(rule.resourceNames ?? []).toEqual([]);
        for (const group of rule.apiGroups) {
          for (const resource of rule.resources) {
            const grant =
              allowed[`${group}/${resource}`] ?? expect.fail(`${role.metadata.name} grants ${group}/${resource}`);
            for (const verb of rule.verbs) expect(grant, `${role.metadata.name}: ${verb} ${resource}`).toContain(verb);
          }
        }
      }
      if (role.kind === 'ClusterRole')
        expect(role.rules.flatMap((r: K8sObject) => r.resources)).not.toContain('leases');
    }
    for (const [name, objs] of renders) {
      for (const b of objs.filter((o) => o.kind.endsWith('RoleBinding'))) {
        one(objs, b.roleRef.kind, b.roleRef.name);
        for (const s of b.subjects) {
          expect(s.kind, `${name}: only ServiceAccounts are bound`).toBe('ServiceAccount');
          expect(one(objs, 'ServiceAccount', s.name).metadata.namespace).toBe(s.namespace);
        }
      }
    }
  });

  it('serve: two replicas, probes on /healthz and /readyz, ingress on 3000 only, the egress it needs', () => {
    for (const name of ['base', 'overlays/production']) {
      const objs = render(name);
      const d = one(objs, 'Deployment', 'conveyor');
      const [c] = containers(d);
      expect(c!.args.slice(0, 3)).toEqual(['serve', '--config', '/etc/conveyor/conveyor.yaml']);
      expect(c!.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
      expect(c!.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c!.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(c!.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/conveyor', readOnly: true });
      expect(one(objs, 'Service').spec.ports[0].targetPort).toBe('http');
      expect(one(objs, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
      const policy = one(objs, 'NetworkPolicy').spec;
      expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(policy.ingress.flatMap((r: K8sObject) => r.ports)).toEqual([{ port: 3000, protocol: 'TCP' }]);
      const egress = new Set(policy.egress.flatMap((r: K8sObject) => r.ports.map((p: K8sObject) => p.port)));
      expect([...egress].sort()).toEqual([443, 53, 5432, 6443, 8500].sort());
    }
    expect(one(render('base'), 'Deployment').spec.replicas).toBe(2);
    const prod = one(render('overlays/production'), 'Deployment');
    expect(prod.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(podSpec(prod).volumes.find((v: K8sObject) => v.name === 'data').emptyDir.sizeLimit).toBe('10Gi');
    expect(roleArn(render('overlays/production'))).toMatch(/^arn:aws:iam::\d{12}:role\//);
  });

  it.each(['qa', 'dit', 'dev'])('journal-agent-%s: one agent whose --env matches the overlay', (env) => {
    const objs = render(`overlays/journal-agent-${env}`);
    const d = one(objs, 'Deployment', 'conveyor-journal-agent');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy.type).toBe('Recreate');
    expect(containers(d)[0]!.args).toEqual([
      'journal-agent',
      '--config',
      '/etc/conveyor/conveyor.yaml',
      '--env',
      env,
      '--import-cmd',
      '/opt/importer/import.sh',
    ]);
    expect(podSpec(d).automountServiceAccountToken).toBe(false);
    const importer = podSpec(d).volumes.find((v: K8sObject) => v.name === 'importer');
    expect(importer.configMap.defaultMode).toBe(0o555);
    expect(roleArn(objs)).toMatch(new RegExp(`:role/conveyor-journal-agent-${env}$`));
    expect(objs.some((o) => o.kind.includes('Role'))).toBe(false);
  });

  it.each(['dev', 'prod'])('journal-watch-%s-modelling: watches the export folder mounted from a PVC', (cluster) => {
    const objs = render(`overlays/journal-watch-${cluster}-modelling`);
    const d = one(objs, 'Deployment', 'conveyor-journal-watch');
    const [c] = containers(d);
    const arg = (flag: string): string => c!.args[c!.args.indexOf(flag) + 1];
    expect(c!.args[0]).toBe('journal-watch');
    expect(arg('--cluster')).toBe(`${cluster}-modelling`);
    const mount = c!.volumeMounts.find((m: K8sObject) => m.mountPath === arg('--dir'));
    expect(mount.readOnly ?? false).toBe(false);
    expect(podSpec(d).volumes.find((v: K8sObject) => v.name === mount.name).persistentVolumeClaim.claimName).toBe(
      'journal-export',
    );
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy.type).toBe('Recreate');
  });

  it('the S3 bucket policy lets only the modelling clusters write and the execution environments read', () => {
    const policy = JSON.parse(readFileSync(join(manifests, 's3-bucket-policy.example.json'), 'utf8'));
    const allows = policy.Statement.filter((s: K8sObject) => s.Effect === 'Allow');
    const principals = (action: string): string[] =>
      allows
        .filter((s: K8sObject) => [s.Action].flat().includes(action))
        .flatMap((s: K8sObject) => s.Principal.AWS)
        .sort();
    const overlays = (prefix: string): string[] =>
      [...renders.keys()]
        .filter((k) => basename(k).startsWith(prefix))
        .map((k) => roleArn(render(k)))
        .sort();
    expect(principals('s3:PutObject')).toEqual(overlays('journal-watch-'));
    expect(principals('s3:AbortMultipartUpload')).toEqual(overlays('journal-watch-'));
    // Reading every journal: the execution environments. A modelling cluster's watcher checks
    // only its own uploads (HeadObject needs s3:GetObject; listing needs s3:ListBucket), each
    // statement held to its own prefix.
    const readers = (action: string) => allows.filter((s: K8sObject) => [s.Action].flat().includes(action));
    const scopeOf = (s: K8sObject): string =>
      s.Action === 's3:ListBucket'
        ? s.Condition.StringLike['s3:prefix'][0]
        : s.Resource.replace(/^arn:aws:s3:::[^/]+\//, '');
    for (const action of ['s3:GetObject', 's3:ListBucket']) {
      const everything = readers(action).filter((s: K8sObject) => scopeOf(s) === 'journals/*');
      expect(everything.flatMap((s: K8sObject) => s.Principal.AWS).sort()).toEqual(overlays('journal-agent-'));
      const own = readers(action).filter((s: K8sObject) => scopeOf(s) !== 'journals/*');
      expect(own.flatMap((s: K8sObject) => s.Principal.AWS).sort()).toEqual(overlays('journal-watch-'));
      for (const s of own) {
        const cluster = /journal-watch-(.+)$/.exec(s.Principal.AWS[0])![1];
        expect(s.Principal.AWS).toHaveLength(1);
        expect(scopeOf(s)).toBe(`journals/${cluster}/*`);
      }
    }
    for (const s of allows) {
      expect(s.Principal).not.toBe('*');
      expect([s.Action].flat().some((a: string) => a.includes('*'))).toBe(false);
    }
  });
});

describe('the renderer refuses what it does not implement', () => {
  const kustomization = (text: string, files: Record<string, string> = {}): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
    writeFileSync(join(dir, 'kustomization.yaml'), text);
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    return dir;
  };
  const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata: { a: "1" }\n';

  it.each([
    ['an unknown field', 'commonLabels: { a: b }\nresources: [cm.yaml]'],
    [
      'a strategic-merge patch',
      'resources: [cm.yaml]\npatches:\n  - target: { kind: ConfigMap, name: x }\n    patch: "data: { a: 2 }"',
    ],
    [
      'a patch matching nothing',
      'resources: [cm.yaml]\npatches:\n  - target: { kind: ConfigMap, name: y }\n    patch: "[{op: add, path: /data/b, value: c}]"',
    ],
    [
      'a replace of a missing path',
      'resources: [cm.yaml]\npatches:\n  - target: { kind: ConfigMap, name: x }\n    patch: "[{op: replace, path: /data/b, value: c}]"',
    ],
    ['labels on selectors', 'resources: [cm.yaml]\nlabels: [{ pairs: { a: b }, includeSelectors: true }]'],
    ['a file outside the folder', 'configMapGenerator: [{ name: c, files: [../../etc/passwd] }]'],
    [
      'a YAML 1.1 octal',
      'resources: [cm.yaml]\npatches:\n  - target: { kind: ConfigMap, name: x }\n    patch: "[{op: add, path: /data/b, value: 0555}]"',
    ],
    ['a remote resource', 'resources: [https://github.com/example/repo//deploy?ref=main]'],
  ])('throws on %s', (_label, text) => {
    expect(() => renderKustomization(kustomization(text, { 'cm.yaml': cm }))).toThrow(/kustomize/);
  });

  it('applies supported JSON 6902 patches', () => {
    const dir = kustomization(
      'resources: [cm.yaml]\nnamespace: ns\npatches:\n  - target: { kind: ConfigMap, name: x }\n    patch: "[{op: add, path: /data/b, value: c}, {op: remove, path: /data/a}]"',
      { 'cm.yaml': cm },
    );
    expect(renderKustomization(dir)).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' }, data: { b: 'c' } },
    ]);
  });

  it("hashes generated ConfigMaps like kustomize (kustomize's own test vectors)", () => {
    expect(configMapHash({ metadata: { name: '' }, data: {} })).toBe('42745tchd9');
    expect(configMapHash({ metadata: { name: '' }, data: { two: '2', one: '', three: '3' } })).toBe('f5h7t85m9b');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const lines = dockerfile
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('builds in several stages and runs as a non-root user under tini', () => {
    const stages = lines.flatMap((l, i) => (/^FROM\s/i.test(l) ? [i] : []));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const finalStage = lines.slice(stages.at(-1));
    const user = finalStage.filter((l) => /^USER\s/i.test(l)).at(-1) ?? expect.fail('no USER in the final stage');
    expect(user).not.toMatch(/^USER\s+(root|0)(:|$)/i);
    expect(finalStage.find((l) => /^ENTRYPOINT/i.test(l))).toContain('tini');
    expect(finalStage.join('\n')).toMatch(/npm (ci|install) --omit=dev/);
  });

  it('runs on the current LTS Node base, listens on every interface, checks its health and carries OCI labels', () => {
    const text = dockerfile.replace(/\\\n/g, ' ');
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1] ?? expect.fail('no NODE_IMAGE argument');
    expect(base).toMatch(/^node:24[-.\w]*(@sha256:[0-9a-f]{64})?$/);
    const stages = lines.flatMap((l, i) => (/^FROM\s/i.test(l) ? [i] : []));
    expect(
      lines.filter((l) => /^FROM\s/i.test(l)).every((l) => l.startsWith(['FROM $', '{NODE_IMAGE}'].join(''))),
    ).toBe(true);
    const finalStage = text.slice(text.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/^ENV .*\bHOST=0\.0\.0\.0\b/m);
    expect(finalStage).toMatch(/^HEALTHCHECK .*\/healthz/m);
    for (const label of ['title', 'version', 'revision', 'base.name']) {
      expect(finalStage, label).toContain(`org.opencontainers.image.${label}=`);
    }
    expect(stages.length).toBeGreaterThanOrEqual(2);
  });

  it('ships dist/ and production dependencies only: no sources, no TypeScript, no tsx', () => {
    const finalStage = lines.slice(
      lines
        .map((l, i) => (/^FROM\s/i.test(l) ? i : -1))
        .filter((i) => i >= 0)
        .at(-1),
    );
    const copies = finalStage.filter((l) => /^COPY\s/i.test(l)).join('\n');
    expect(copies).toMatch(/\/app\/dist\b/);
    expect(copies).not.toMatch(/\/app\/(src|commands|test)\b/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const tool of ['tsx', 'typescript', 'esbuild', 'vitest'])
      expect(Object.keys(pkg.dependencies), tool).not.toContain(tool);
    expect(pkg.devDependencies.tsx).toBeDefined();
  });

  it("makes the embedded store's template as the user that runs serve, so a pod's first start runs no initdb", () => {
    const finalStage = lines.slice(
      lines
        .map((l, i) => (/^FROM\s/i.test(l) ? i : -1))
        .filter((i) => i >= 0)
        .at(-1),
    );
    const at = (re: RegExp) => finalStage.findIndex((l) => re.test(l));
    const make = at(/^RUN node scripts\/pglite-template\.mjs\b/);
    expect(make, 'the template script runs in the final stage').toBeGreaterThan(-1);
    expect(at(/^USER 1000:1000$/)).toBeLessThan(make);
    expect(at(/^COPY --from=build \/app\/dist /)).toBeLessThan(make);
    expect(at(/^COPY --from=build \/app\/scripts\/pglite-template\.mjs /)).toBeLessThan(make);
    // The folder it writes (beside the installed PGlite) belongs to that user.
    expect(finalStage.join('\n')).toMatch(/chown 1000:1000 [^\n]*node_modules\/\.cache\/conveyor/);
    expect(readFileSync(join(root, 'src', 'store', 'pglite-db.ts'), 'utf8')).toContain(
      "join(PGLITE_PACKAGE, '..', '..', '.cache', 'conveyor'",
    );
  });

  it('copies no .env or secret files into the image, and the context excludes them', () => {
    for (const line of lines.filter((l) => /^(COPY|ADD)\s/i.test(l))) {
      expect(line).not.toMatch(/\.env|secret|\.pem|\.key\b|id_rsa|\.npmrc/i);
    }
    expect(lines.filter((l) => /^(ARG|ENV)\s/i.test(l)).join('\n')).not.toMatch(/TOKEN|SECRET|PASSWORD/i);
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', '**/.env', 'node_modules', '.git']));
  });
});
