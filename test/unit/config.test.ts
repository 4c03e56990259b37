import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { SANDBOX_CONFIG } from '../../src/sandbox/sandbox.js';

/** The ConfigError parseConfig throws for `text`. */
function problemsOf(text: string): ConfigError {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('the configuration was accepted');
}

/** Three mistakes: a bad `enters`, a bad app name, a gate role that is not defined. */
const THREE_MISTAKES = readFileSync(new URL('../fixtures/three-mistakes.yaml', import.meta.url), 'utf8');

describe('parseConfig', () => {
  it('accepts the sandbox configuration and fills the defaults', () => {
    const config = parseConfig(SANDBOX_CONFIG);
    expect(config.environments.map((e) => `${e.name}:${e.branch}:${e.enters}`)).toEqual([
      'development:develop:push',
      'qa:qa:push',
      'staging:staging:push',
      'prod:prod:pull-request',
    ]);
    expect(config.apps.map((a) => a.name)).toEqual(['api', 'web', 'worker']);
    expect(config.apps[2]).toMatchObject({ strategy: 'image', image: { layout: './images/worker' } });
    const prod = config.environments[3]!;
    expect(prod.gate.roles).toEqual({ 'tech-lead': 1, 'product-owner': 1 });
    expect(prod.gate.expiresAfter).toBe(24 * 3_600_000);
    expect(config.environments[0]!.gate).toMatchObject({ roles: {}, changeTicket: 'none', freezes: [] });
    expect(config.git.tagFormat).toBe('{env}/{yyyy}.{mm}.{dd}.{n}');
    expect(config.roles['tech-lead']).toEqual({ users: ['U_LEAD'], groups: [] });
  });

  it('reports field mistakes with the path of the field', () => {
    const text = problemsOf(THREE_MISTAKES).problems.join('\n');
    expect(text).toMatch(/^environments\[1\]\.enters: .*push.*pull-request/m);
    expect(text).toMatch(/^apps\[0\]\.name: an app name of lowercase letters/m);
  });

  it('reports a gate role that is not defined under roles', () => {
    const err = problemsOf(
      THREE_MISTAKES.replace('enters: merge', 'enters: pull-request').replace('Bad_App', 'bad-app'),
    );
    expect(err.problems).toEqual(['environments[1].gate: role "release-manager" is not defined under roles']);
  });

  // Regression (fixed) (src/config/schema.ts, the configSchema .superRefine): zod 4 skips refinements
  // once a field has failed, so the cross-field checks (undefined roles, duplicates, targets in
  // unknown environments) are not reported together with field mistakes: 2 of 3 here.
  it('reports every mistake at once, each with the path of the field', () => {
    const err = problemsOf(THREE_MISTAKES);
    expect(err.problems).toHaveLength(3);
    expect(err.message).toMatch(/bad\.yaml has 3 problems/);
    expect(err.problems.join('\n')).toMatch(
      /^environments\[1\]\.gate: role "release-manager" is not defined under roles/m,
    );
  });

  it('reports a YAML syntax error as such', () => {
    const err = problemsOf('environments:\n  - name: qa\n    branch: [qa\n');
    expect(err.message).toMatch(/bad\.yaml is not valid YAML/);
    expect(err.problems[0]).toMatch(/^YAML: /);
  });

  it('reports an empty file and unknown keys', () => {
    expect(problemsOf('').problems).toEqual(['environments: Invalid input: expected array, received undefined']);
    const err = problemsOf('environments: [{ name: qa, branch: qa, color: blue }]\nslak: {}\n');
    expect(err.problems.join('\n')).toMatch(/environments\[0\].*color/);
    expect(err.problems.join('\n')).toMatch(/slak/);
  });

  it("explains a value that fits none of a setting's shapes by the shape it came closest to", () => {
    const journal = (objects: string) =>
      `environments: [{ name: dev, branch: dev }]\njournal:\n  objects: ${objects}\n  clusters: [{ name: c1, writable: true, mandators: [tech-head] }]\n  chain: [{ env: dev }]\n`;
    expect(problemsOf(journal('{ bucket: journals, sse: AES512 }')).problems).toEqual([
      'journal.objects.sse: Invalid option: expected one of "AES256"|"aws:kms"',
    ]);
    expect(problemsOf(journal('{ bucket: journals, kmsKeyId: k1 }')).problems).toEqual([
      'journal.objects.kmsKeyId: kmsKeyId needs sse: aws:kms',
    ]);
    expect(problemsOf(journal('{ folder: 42 }')).problems).toEqual([
      'journal.objects.folder: Invalid input: expected string, received number',
    ]);
  });

  it('parses durations into milliseconds and refuses malformed ones', () => {
    const withDurations = (expires: string, timeout: string) =>
      `environments:\n  - name: qa\n    branch: qa\n    gate: { expiresAfter: ${expires} }\n    verify: { timeout: ${timeout} }\n`;
    const config = parseConfig(withDurations('90s', '10m'));
    expect(config.environments[0]!.gate.expiresAfter).toBe(90_000);
    expect(config.environments[0]!.verify.timeout).toBe(600_000);
    expect(parseConfig(withDurations('7d', '250ms')).environments[0]!.gate.expiresAfter).toBe(7 * 86_400_000);
    expect(parseConfig(withDurations('2h', '250ms')).environments[0]!.verify.timeout).toBe(250);
    const err = problemsOf(withDurations('ten minutes', '"5 minutes"'));
    expect(err.problems.join('\n')).toMatch(/environments\[0\]\.gate\.expiresAfter: a duration such as/);
    expect(err.problems.join('\n')).toMatch(/environments\[0\]\.verify\.timeout: a duration such as/);
  });

  it('refuses environments and apps listed twice, and targets in unknown environments', () => {
    const err = problemsOf(`environments:
  - { name: qa, branch: qa }
  - { name: qa, branch: qa2 }
apps:
  - name: api
    repo: ./api.git
    targets: { staging: { cluster: c, namespace: ns, workloads: [api] } }
  - { name: api, repo: ./api2.git }
`);
    const text = err.problems.join('\n');
    expect(text).toMatch(/^environments: environment "qa" is listed twice/m);
    expect(text).toMatch(/^apps: app "api" is listed twice/m);
    expect(text).toMatch(/^apps\[0\]\.targets\.staging: unknown environment "staging"/m);
  });

  it('refuses branch names that could reach git as options or ranges', () => {
    for (const branch of ['-upload-pack', 'a..b', 'rel.lock', 'a b']) {
      const err = problemsOf(`environments:\n  - name: qa\n    branch: "${branch}"\n`);
      expect(err.problems.join('\n')).toMatch(/^environments\[0\]\.branch: /m);
    }
  });
});

describe('loadConfigFile', () => {
  it('reads an explicit file, else ./conveyor.yaml, else null for the sandbox', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-config-'));
    try {
      expect(loadConfigFile(undefined, dir)).toBeNull();
      expect(() => loadConfigFile('missing.yaml', dir)).toThrow(/configuration file not found: missing\.yaml/);
      writeFileSync(join(dir, 'conveyor.yaml'), SANDBOX_CONFIG);
      expect(loadConfigFile(undefined, dir)?.file).toBe(join(dir, 'conveyor.yaml'));
      writeFileSync(join(dir, 'bad.yaml'), THREE_MISTAKES);
      expect(() => loadConfigFile('bad.yaml', dir)).toThrow(/bad\.yaml has \d problems/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
