import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { readRegistryCredentials } from '../../src/config/strategy-schema.js';
import { ConfigError } from '../../src/core/errors.js';

const ENVS = `environments:
  - { name: development, branch: develop }
  - { name: staging, branch: staging }
  - { name: prod, branch: prod, enters: pull-request }
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

describe('promotion strategies in conveyor.yaml', () => {
  it('refuses two environments sharing a folder, or one folder inside another', () => {
    const app = (paths: string) =>
      `${ENVS}apps:\n  - name: site\n    repo: ./site.git\n    strategy: directory\n    gitops: { repo: ./gitops.git, paths: { ${paths} } }\n`;
    expect(problems(app('development: envs/dev, staging: envs/dev/, prod: envs/prod'))).toEqual([
      'apps[0].gitops.paths.staging: staging and development share the folder envs/dev; each environment needs its own',
    ]);
    expect(problems(app('development: envs, staging: envs/staging, prod: envs/prod'))).toEqual([
      expect.stringContaining('staging and development share folders, one inside the other: envs / envs/staging'),
      expect.stringContaining('prod and development share folders, one inside the other: envs / envs/prod'),
    ]);
    expect(() => parseConfig(app('development: envs/dev, staging: envs/staging, prod: envs/prod'))).not.toThrow();
  });

  it('leaves an app without strategy on branches, as before', () => {
    const config = parseConfig(`${ENVS}apps:\n  - { name: api, repo: acme/api }\n`);
    expect(config.apps[0]?.strategy).toBeUndefined();
    expect(config.apps[0]?.image).toBeUndefined();
  });

  it('accepts an image app with a GitOps repository and fills the defaults', () => {
    const config = parseConfig(`${ENVS}apps:
  - name: worker
    repo: acme/worker
    strategy: image
    image:
      repository: registry.example.com/team/worker
      policy: { semver: ">=1.0.0" }
      credentials: { usernameEnv: REGISTRY_USER, passwordEnv: REGISTRY_PASSWORD }
    gitops:
      repo: acme/deploy
      paths: { development: overlays/development, staging: overlays/staging, prod: overlays/prod }
`);
    const app = config.apps[0];
    expect(app?.strategy).toBe('image');
    expect(app?.image).toMatchObject({ repository: 'registry.example.com/team/worker', pollInterval: '5m' });
    expect(app?.gitops).toMatchObject({ repo: 'acme/deploy', branch: 'main', format: 'kustomize', envSpecific: [] });
  });

  it('takes a tag regex sorted by push time', () => {
    const config = parseConfig(`${ENVS}apps:
  - name: worker
    repo: acme/worker
    strategy: image
    image: { repository: ghcr.io/acme/worker, policy: { tagRegex: "^main-[0-9a-f]{7}$", sort: pushed } }
    gitops: { format: helm-values, tagPath: image.tag, paths: { development: d, staging: s, prod: p } }
`);
    expect(config.apps[0]?.image?.policy).toEqual({ tagRegex: '^main-[0-9a-f]{7}$', sort: 'pushed' });
  });

  it('names every mistake of an image app at once', () => {
    expect(
      problems(`${ENVS}apps:
  - name: worker
    repo: acme/worker
    strategy: image
    image: { repository: "Team/Worker", policy: { semver: "not a range" } }
    gitops:
      format: yaml-path
      paths: { development: overlays/development, qa: /abs/qa }
`),
    ).toEqual([
      'apps[0].image.repository: a registry host and repository such as registry.example.com/team/web',
      'apps[0].image.policy.semver: a semver range such as ">=1.0.0" or "^2.3"',
      'apps[0].gitops.paths.qa: a path inside the repository (no leading /, no ..)',
      'apps[0].gitops.paths.qa: unknown environment "qa"',
      'apps[0].gitops.paths: no path for environment "staging", "prod"',
      'apps[0].gitops.path: format: yaml-path needs path: (where the image reference is)',
    ]);
  });

  it('refuses image settings on a branch app and a strategy without its blocks', () => {
    expect(
      problems(`${ENVS}apps:
  - { name: api, repo: acme/api, image: { repository: r.io/a/b, policy: { semver: "1.x" } } }
  - { name: site, repo: acme/site, strategy: directory }
  - { name: worker, repo: acme/worker, strategy: image, gitops: { paths: { development: a, staging: b, prod: c } } }
`),
    ).toEqual([
      'apps[0].image: applies only with strategy: image',
      'apps[1].gitops: strategy: directory needs a gitops: block with a path per environment',
      'apps[2].image: strategy: image needs an image: block',
    ]);
  });
});

describe('registry credentials', () => {
  const image = {
    repository: 'registry.example.com/team/worker',
    policy: { semver: '*' },
    pollInterval: '5m',
    credentials: { usernameEnv: 'REG_USER', passwordEnv: 'REG_PASSWORD' },
  };

  it('reads them from the variables or their _FILE, and names what is missing without a value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-cred-'));
    try {
      writeFileSync(join(dir, 'password'), 'from-a-file\n');
      expect(readRegistryCredentials(image, { REG_USER: 'bot', REG_PASSWORD_FILE: join(dir, 'password') })).toEqual({
        username: 'bot',
        password: 'from-a-file',
      });
      expect(() => readRegistryCredentials(image, { REG_USER: 'bot' })).toThrow(
        'registry credentials for registry.example.com/team/worker: REG_PASSWORD not set (nor REG_PASSWORD_FILE)',
      );
      expect(readRegistryCredentials({ ...image, credentials: undefined }, {})).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('image.layout: a local OCI image layout in place of a registry', () => {
  const app = (image: string) => `${ENVS}apps:
  - name: worker
    repo: ./worker.git
    strategy: image
    image: { repository: registry.example.com/team/worker, policy: { semver: ">=1.0.0" }, ${image} }
    gitops: { repo: ./deploy.git, paths: { development: o/development, staging: o/staging, prod: o/prod } }
`;

  it('accepts a folder path', () => {
    expect(parseConfig(app('layout: ./images/worker')).apps[0]?.image?.layout).toBe('./images/worker');
  });

  it('refuses a URL, and a registry URL or credentials beside it', () => {
    expect(problems(app('layout: "https://registry.example.com/worker"'))).toEqual([
      'apps[0].image.layout: a folder path (not a URL)',
    ]);
    expect(problems(app('layout: ./images/worker, registryUrl: "http://127.0.0.1:5000"'))).toEqual([
      'apps[0].image.registryUrl: does not apply with image.layout (a local OCI layout folder)',
    ]);
    expect(
      problems(
        app('layout: ./images/worker, credentials: { usernameEnv: REGISTRY_USER, passwordEnv: REGISTRY_PASSWORD }'),
      ),
    ).toEqual(['apps[0].image.credentials: does not apply with image.layout (a local OCI layout folder)']);
  });
});
