/**
 * manifests/monitoring: the ServiceMonitor and PodMonitor select what the other manifests
 * deploy, on ports those declare; the alert rules pass `promtool check rules` (skipped with a
 * printed reason where promtool is missing; .ci/run installs it) and fire in a `promtool test
 * rules` scenario; and every metric the alerts and the Grafana dashboard query is one that serve
 * or the journal workers actually expose.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Metrics } from '../../src/core/metrics.js';
import { WorkerHealth } from '../../src/journal/worker-health.js';
import { type K8sObject, renderDir } from '../system/support/render.js';

const MANIFESTS = resolve(import.meta.dirname, '../../manifests');
const monitoring = renderDir(join(MANIFESTS, 'monitoring'));
const one = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind}/${name ?? '*'}`).toHaveLength(1);
  return found[0]!;
};
const promtool = (() => {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (!found)
    console.warn(
      'promtool is not installed: skipping the promtool checks of the alert rules (apt-get install prometheus)',
    );
  return found || null;
})();
const work = mkdtempSync(join(tmpdir(), 'conveyor-monitoring-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const matches = (selector: K8sObject, labels: Record<string, string>): boolean =>
  Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (selector.matchExpressions ?? []).every((e: K8sObject) => e.operator === 'In' && e.values.includes(labels[e.key]));

/** Every series name serve and the workers can expose (histograms with their suffixes), and `up`. */
function exposedNames(): Set<string> {
  const metrics = new Metrics({ defaults: true });
  metrics.githubRateLimit.set(1);
  metrics.leader.set(1);
  const names = new Set(['up']);
  const add = (name: string, type: string) => {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
  };
  for (const registry of [metrics.registry, new WorkerHealth('journal-watch', {}).registry]) {
    for (const m of registry.getMetricsAsArray()) add(m.name, (m as unknown as { type: string }).type);
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers followed by `{`, `[`, or standing alone, minus keywords and functions. */
function metricNames(expr: string): string[] {
  const words = new Set([
    'sum',
    'max',
    'min',
    'avg',
    'by',
    'without',
    'rate',
    'increase',
    'absent',
    'or',
    'and',
    'unless',
    'histogram_quantile',
    'le',
    'label_values',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'count',
  ]);
  const stripped = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/"[^"]*"/g, '""')
    .replace(/\$\w+|\[[^\]]*\]/g, '');
  return [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter(
      (w) =>
        !words.has(w) &&
        !/^\d/.test(w) &&
        !/^(kind|outcome|command|app|env|result|method|error|target|cluster|worker|pod|namespace)$/.test(w),
    );
}

describe('manifests/monitoring', () => {
  it('the ServiceMonitor selects the Service of serve and scrapes a port it declares', () => {
    const base = renderDir(join(MANIFESTS, 'base'));
    const monitor = one(monitoring, 'ServiceMonitor');
    const service = one(base, 'Service', 'conveyor');
    expect(monitor.metadata.namespace).toBe(service.metadata.namespace);
    expect(matches(monitor.spec.selector, service.metadata.labels)).toBe(true);
    const ports = service.spec.ports.map((p: K8sObject) => p.name);
    for (const e of monitor.spec.endpoints) expect(ports).toContain(e.port);
    const deployment = one(base, 'Deployment', 'conveyor');
    expect(deployment.spec.template.metadata.annotations['prometheus.io/path']).toBe(monitor.spec.endpoints[0].path);
  });

  it.each(['journal-agent-qa', 'journal-watch-dev-modelling'])(
    'the PodMonitor selects the %s pods and scrapes their health port',
    (overlay) => {
      const monitor = one(monitoring, 'PodMonitor');
      const d = one(renderDir(join(MANIFESTS, 'overlays', overlay)), 'Deployment');
      expect(matches(monitor.spec.selector, d.spec.template.metadata.labels)).toBe(true);
      const container = d.spec.template.spec.containers[0];
      for (const e of monitor.spec.podMetricsEndpoints) {
        expect(container.ports.map((p: K8sObject) => p.name)).toContain(e.port);
        expect(e.path).toBe(d.spec.template.metadata.annotations['prometheus.io/path']);
      }
    },
  );

  it('the Grafana dashboard is a labelled ConfigMap whose JSON names a uid, a data source variable and panels', () => {
    const cm = one(monitoring, 'ConfigMap');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(cm.data['conveyor-dashboard.json']);
    expect(dashboard.uid).toBe('conveyor');
    expect(dashboard.templating.list.map((v: K8sObject) => v.name)).toContain('datasource');
    expect(dashboard.panels.length).toBeGreaterThan(8);
    const ids = dashboard.panels.map((p: K8sObject) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every metric the alerts and the dashboard query is exposed by serve or a journal worker', () => {
    const exposed = exposedNames();
    const rules = one(monitoring, 'PrometheusRule').spec.groups.flatMap((g: K8sObject) => g.rules);
    const dashboard = JSON.parse(one(monitoring, 'ConfigMap').data['conveyor-dashboard.json']);
    const exprs: string[] = [
      ...rules.map((r: K8sObject) => r.expr as string),
      ...dashboard.panels.flatMap((p: K8sObject) => p.targets.map((t: K8sObject) => t.expr as string)),
    ];
    const unknown = exprs.flatMap((e) =>
      metricNames(e)
        .filter((n) => !exposed.has(n))
        .map((n) => `${n} in ${e}`),
    );
    expect(unknown).toEqual([]);
    expect(exprs.flatMap(metricNames)).toContain('conveyor_journal_worker_ready');
  });

  it.skipIf(!promtool)('the alert rules pass promtool check rules', () => {
    const file = join(work, 'rules.yaml');
    writeFileSync(file, stringify({ groups: one(monitoring, 'PrometheusRule').spec.groups }));
    const result = spawnSync(promtool!, ['check', 'rules', file], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: 12 rules found/);
  });

  it.skipIf(!promtool)(
    'a journal worker refused for 15 minutes fires ConveyorJournalWorkerNotReady (promtool test rules)',
    () => {
      writeFileSync(join(work, 'rules.yaml'), stringify({ groups: one(monitoring, 'PrometheusRule').spec.groups }));
      const series = 'conveyor_journal_worker_ready{worker="journal-agent",env="qa",job="conveyor/conveyor-journal"}';
      writeFileSync(
        join(work, 'test.yaml'),
        stringify({
          rule_files: ['rules.yaml'],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: [{ series, values: '1 0x30' }],
              alert_rule_test: [
                { eval_time: '10m', alertname: 'ConveyorJournalWorkerNotReady', exp_alerts: [] },
                {
                  eval_time: '20m',
                  alertname: 'ConveyorJournalWorkerNotReady',
                  exp_alerts: [
                    {
                      exp_labels: {
                        severity: 'warning',
                        worker: 'journal-agent',
                        env: 'qa',
                        job: 'conveyor/conveyor-journal',
                      },
                      exp_annotations: {
                        summary: 'Journal journal-agent qa is not ready',
                        description:
                          "It has not started, or the bot refuses its token (JOURNAL_TOKEN against serve's JOURNAL_TOKENS).",
                      },
                    },
                  ],
                },
              ],
            },
          ],
        }),
      );
      const result = spawnSync(promtool!, ['test', 'rules', 'test.yaml'], { cwd: work, encoding: 'utf8' });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    },
  );
});
