/**
 * The promotion strategy of an app (`strategy`, `image`, `gitops` in an apps entry):
 * - `branch` (default): environments are branches of the app's repository (nothing else to say).
 * - `image`: the version of an environment is the image reference (tag@digest) in its GitOps path;
 *   `image` names the repository and the policy for new tags, `gitops` the repository, the path
 *   per environment and the file format.
 * - `directory`: environments are folders of one branch (`gitops.paths`), promoted by copying the
 *   source folder's tree, except the files listed in `gitops.envSpecific`.
 */
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { parseRange } from '../core/images/semver.js';
import { BRANCH_NAME, ENV_NAME } from '../core/patterns.js';
import { secretValue } from './secrets.js';

const envVar = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'an environment variable name such as REGISTRY_PASSWORD');
const relPath = z
  .string()
  .min(1)
  .max(300)
  .refine(
    (p) => !p.startsWith('/') && !p.split('/').includes('..'),
    'a path inside the repository (no leading /, no ..)',
  );

const semverPolicy = z
  .object({
    /** An npm-style range: ">=1.0.0", "^2.3", "1.x". Newest by semver. */
    semver: z.string().refine((r) => parseRange(r) !== null, 'a semver range such as ">=1.0.0" or "^2.3"'),
  })
  .strict();

const regexPolicy = z
  .object({
    tagRegex: z
      .string()
      .max(200)
      .refine((r) => {
        try {
          new RegExp(r);
          return true;
        } catch {
          return false;
        }
      }, 'a regular expression'),
    /** Newest by semver (tags that are not versions never win) or by the image's creation time. */
    sort: z.enum(['semver', 'pushed']).default('semver'),
  })
  .strict();

export const imageSchema = z
  .object({
    /** `registry.example.com/team/web`, `ghcr.io/acme/web`, `127.0.0.1:5000/team/web`. */
    repository: z
      .string()
      .regex(
        /^[a-z0-9.-]+(:\d+)?\/[a-z0-9]+(?:[._/-][a-z0-9]+)*$/,
        'a registry host and repository such as registry.example.com/team/web',
      ),
    /** The registry's base URL when it is not https://<host> (a local registry on http). */
    registryUrl: z.url().optional(),
    /**
     * A local OCI image layout (the folder `skopeo copy … oci:<dir>:<tag>` writes) to read the
     * tags and labels from instead of a registry; relative to the configuration file's folder.
     */
    layout: z
      .string()
      .min(1)
      .max(500)
      .refine((p) => !p.includes('\0') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(p), 'a folder path (not a URL)')
      .optional(),
    policy: z.union([semverPolicy, regexPolicy]),
    /** Names of the environment variables (or `<NAME>_FILE`) holding the registry credentials. */
    credentials: z.object({ usernameEnv: envVar, passwordEnv: envVar }).strict().optional(),
    /** How often the registry is polled for new tags (webhooks make it immediate). */
    pollInterval: z
      .string()
      .regex(/^\d+(s|m|h)$/, 'a duration such as 5m')
      .default('5m'),
  })
  .strict();

export const gitopsSchema = z
  .object({
    /** The GitOps repository (GitHub "owner/repo", a Git URL or a local path); default the app's repo. */
    repo: z.string().min(1).optional(),
    branch: z.string().regex(BRANCH_NAME, 'a branch name').default('main'),
    /** The folder of each environment: { development: overlays/development, … }. */
    paths: z.record(z.string().regex(ENV_NAME, 'an environment name'), relPath),
    format: z.enum(['kustomize', 'helm-values', 'yaml-path']).default('kustomize'),
    /** The file in each folder; default kustomization.yaml (kustomize) or values.yaml (helm-values). */
    file: relPath.optional(),
    /** kustomize: the `images:` entry's name; default the image repository. */
    imageName: z.string().min(1).optional(),
    /** helm-values: where the tag is (default image.tag) and, optionally, the digest. */
    tagPath: z.string().min(1).optional(),
    digestPath: z.string().min(1).optional(),
    /** yaml-path: where the full image reference is, e.g. spec.template.spec.containers[name=web].image. */
    path: z.string().min(1).optional(),
    /** directory: files (relative to each folder) that stay as they are in the target. */
    envSpecific: z.array(relPath).default([]),
  })
  .strict();

export const strategyFields = {
  /** Absent: branch. */
  strategy: z.enum(['branch', 'image', 'directory']).optional(),
  image: imageSchema.optional(),
  gitops: gitopsSchema.optional(),
};

type Issue = { path: (string | number)[]; message: string };

/** Cross-field checks of one app entry (read defensively: fields may have failed on their own). */
export function strategyProblems(app: Record<string, unknown> | undefined, envNames: string[]): Issue[] {
  if (!app || typeof app !== 'object') return [];
  const strategy = (app.strategy as string | undefined) ?? 'branch';
  const image = app.image as z.infer<typeof imageSchema> | undefined;
  const gitops = app.gitops as z.infer<typeof gitopsSchema> | undefined;
  const out: Issue[] = [];
  if (strategy === 'branch') {
    if (image) out.push({ path: ['image'], message: 'applies only with strategy: image' });
    if (gitops) out.push({ path: ['gitops'], message: 'applies only with strategy: image or directory' });
    return out;
  }
  if (strategy === 'image' && !image) out.push({ path: ['image'], message: 'strategy: image needs an image: block' });
  if (strategy === 'directory' && image) out.push({ path: ['image'], message: 'applies only with strategy: image' });
  if (image?.layout !== undefined) {
    for (const field of ['registryUrl', 'credentials'] as const) {
      if (image[field] !== undefined)
        out.push({ path: ['image', field], message: 'does not apply with image.layout (a local OCI layout folder)' });
    }
  }
  if (!gitops) {
    out.push({ path: ['gitops'], message: `strategy: ${strategy} needs a gitops: block with a path per environment` });
    return out;
  }
  const paths = gitops.paths && typeof gitops.paths === 'object' ? gitops.paths : {};
  for (const env of Object.keys(paths)) {
    if (!envNames.includes(env)) out.push({ path: ['gitops', 'paths', env], message: `unknown environment "${env}"` });
  }
  // Each environment its own folder (or file): one shared, or one inside another, would let a
  // promotion into one environment rewrite another.
  const entries = Object.entries(paths).filter((e): e is [string, string] => typeof e[1] === 'string');
  const norm = (p: string) => p.replace(/^\.\//, '').replace(/\/+$/, '');
  for (const [i, [env, p]] of entries.entries()) {
    for (const [other, q] of entries.slice(0, i)) {
      const [a, b] = [norm(p), norm(q)];
      if (a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`))
        out.push({
          path: ['gitops', 'paths', env],
          message: `${env} and ${other} share ${a === b ? 'the folder' : 'folders, one inside the other:'} ${a === b ? a : `${b} / ${a}`}; each environment needs its own`,
        });
    }
  }
  const missing = envNames.filter((e) => !(e in paths));
  if (missing.length) {
    out.push({
      path: ['gitops', 'paths'],
      message: `no path for environment ${missing.map((m) => `"${m}"`).join(', ')}`,
    });
  }
  if (strategy === 'image' && gitops.format === 'yaml-path' && !gitops.path) {
    out.push({ path: ['gitops', 'path'], message: 'format: yaml-path needs path: (where the image reference is)' });
  }
  return out;
}

/**
 * The registry credentials an image app names, from the environment (`NAME`, else the file
 * `NAME_FILE` names); undefined when it names none. A named variable that is unset is an error
 * that names the variable, never a value.
 */
export function readRegistryCredentials(
  image: z.infer<typeof imageSchema>,
  env: NodeJS.ProcessEnv = process.env,
): { username: string; password: string } | undefined {
  if (!image.credentials) return undefined;
  const { usernameEnv, passwordEnv } = image.credentials;
  const username = secretValue(env, usernameEnv);
  const password = secretValue(env, passwordEnv);
  const unset = [username === undefined && usernameEnv, password === undefined && passwordEnv].filter(Boolean);
  if (unset.length || username === undefined || password === undefined) {
    throw new ConfigError(
      `registry credentials for ${image.repository}: ${unset.join(' and ')} not set (nor ${unset.map((u) => `${u}_FILE`).join(', ')})`,
    );
  }
  return { username, password };
}
