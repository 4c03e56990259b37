/**
 * `verify.checks` in conveyor.yaml: what is accepted (with its defaults), and each mistake
 * named with the path of its field, as `conveyor check-config` shows it.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { SANDBOX_CONFIG } from '../../src/sandbox/sandbox.js';

/** Every app a target in qa (a job check runs there), unless `targets` is false. */
const withChecks = (checks: string, targets = true) =>
  SANDBOX_CONFIG.replace(
    '    channel: "#deploys-qa"\n',
    `    channel: "#deploys-qa"\n    verify:\n      autoRollback: true\n      checks:\n${checks}`,
  ).replace(
    /( {2}- name: (api|web|worker) *(?:#[^\n]*)?\n {4}repo: \.\/repos\/\w+\.git[^\n]*\n)/g,
    targets ? '$1    targets:\n      qa: { cluster: qa, namespace: shop, workloads: [$2] }\n' : '$1',
  );

function problems(text: string): string[] {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

describe('verify.checks', () => {
  it('refuses a job hook before writes in an environment where an app has no target to run it in', () => {
    const withHook = (config: string) =>
      config.replace(
        '      checks:\n',
        '      before:\n        - { kind: job, name: backup, image: "registry.example.com/backup:1" }\n      checks:\n',
      );
    const check = '        - { kind: http, name: smoke, url: "https://{env}.example.com/health" }\n';
    expect(problems(withHook(withChecks(check, false)))).toEqual([
      expect.stringMatching(
        /environments\[1\]\.verify\.before: the job "backup" runs in each app's target in qa before it is written, but api, web, worker have no target there/,
      ),
    ]);
    expect(() => parseConfig(withHook(withChecks(check)), 'ok.yaml')).not.toThrow();
  });

  it('accepts the three kinds and fills their defaults', () => {
    const config = parseConfig(
      withChecks(`        - { kind: http, name: smoke, url: "https://api.{env}.example.com/health?v={version}", retries: 2 }
        - kind: prometheus
          name: error-rate
          address: http://prometheus.monitoring:9090
          query: 'sum(rate(http_errors_total{app="{app}"}[1m])) / sum(rate(http_requests_total{app="{app}"}[1m]))'
          successCondition: "< 0.05"
          count: 5
          interval: 1m
        - { kind: job, name: e2e, image: "registry.example.com/e2e:{version}", args: ["--env", "{env}"], timeout: 15m }
`),
    );
    const qa = config.environments[1]!;
    expect(qa.verify.autoRollback).toBe(true);
    expect(qa.verify.checks).toEqual([
      expect.objectContaining({
        kind: 'http',
        name: 'smoke',
        method: 'GET',
        retries: 2,
        interval: 5000,
        count: 1,
        failureLimit: 0,
        expect: { status: 200 },
      }),
      expect.objectContaining({
        kind: 'prometheus',
        name: 'error-rate',
        count: 5,
        interval: 60_000,
        inconclusiveLimit: 0,
      }),
      expect.objectContaining({ kind: 'job', name: 'e2e', timeout: 900_000, retries: 0, logLines: 40, env: {} }),
    ]);
    expect(config.environments[0]!.verify.checks).toEqual([]);
  });

  it('names each mistake with its path', () => {
    const found = problems(
      withChecks(`        - { kind: http, name: smoke, url: "http://svc/{build}" }
        - { kind: prometheus, name: smoke, address: http://p:9090, query: up, successCondition: "result[0] > 1" }
        - { kind: job, name: e2e, image: busybox, command: "curl http://svc | sh" }
        - { kind: ssh, name: other }
`),
    ).join('\n');
    expect(found).toMatch(/^environments\[1\]\.verify\.checks\[0\]\.url: url: unknown placeholder \{build\}/m);
    expect(found).toMatch(/^environments\[1\]\.verify\.checks\[1\]\.successCondition: a condition such as "< 0\.05"/m);
    expect(found).toMatch(/^environments\[1\]\.verify\.checks\[2\]\.command: /m);
    expect(found).toMatch(/^environments\[1\]\.verify\.checks\[3\]\.kind: /m);
  });

  it('refuses two checks with one name', () => {
    expect(
      problems(
        withChecks(`        - { kind: http, name: smoke, url: "http://a/" }
        - { kind: http, name: smoke, url: "http://b/" }
`),
      ),
    ).toEqual(['environments[1].verify.checks[1].name: two checks are named smoke']);
  });

  it('accepts a soak window over named checks and pre-deploy hooks; refuses a job check in the window', () => {
    const config = parseConfig(
      withChecks(`        - { kind: http, name: smoke, url: "http://svc/health" }
        - { kind: job, name: e2e, image: e2e }
      soak: { for: 24h, interval: 5m, checks: [smoke] }
      before:
        - { kind: job, name: backup, image: "db-tools:2", command: [/bin/backup], args: ["{app}"] }
      restore: { kind: job, name: restore, image: "db-tools:2", args: [--from, "{backup}"] }
`),
    );
    const verify = config.environments[1]!.verify;
    expect(verify.soak).toEqual({ for: 86_400_000, interval: 300_000, checks: ['smoke'] });
    expect(verify.before.map((h) => h.name)).toEqual(['backup']);
    expect(verify.restore?.args).toEqual(['--from', '{backup}']);
    expect(
      problems(
        withChecks(`        - { kind: job, name: e2e, image: e2e }
      soak: { for: 1h, checks: [e2e, nope] }
`),
      ),
    ).toEqual([
      'environments[1].verify.soak.checks[0]: e2e is a job check; a soak window evaluates http and prometheus checks only',
      'environments[1].verify.soak.checks[1]: no check named nope in verify.checks',
    ]);
  });
});
