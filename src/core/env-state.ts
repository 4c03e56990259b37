/** What each environment of an app runs now, read from the Git mirror. */
import type { AppConfig, EnvironmentConfig } from '../config/schema.js';
import { deployTagPrefix } from './deploy-tag.js';
import { UpstreamError } from './errors.js';
import type { CommitInfo, DeployTag, GitHost } from './ports.js';
import type { Runtime } from './runtime.js';

export interface EnvState {
  env: EnvironmentConfig;
  head: string | null;
  tree: string | null;
  commit: CommitInfo | null;
  /** The newest deploy tag on the head, if the head is tagged. */
  tag: DeployTag | null;
  /** Every deploy tag of this environment, newest first. */
  tags: DeployTag[];
}

const lastSync = new WeakMap<GitHost, number>();

export function hostFor(runtime: Runtime, app: AppConfig): GitHost {
  const host = runtime.git.get(app.name);
  if (!host) throw new UpstreamError('git', `no repository is connected for ${app.name}`);
  return host;
}

/** Fetch the mirror unless it was fetched within `maxAgeMs`. */
export async function syncHost(host: GitHost, maxAgeMs = 0, now = Date.now()): Promise<void> {
  const last = lastSync.get(host);
  if (last !== undefined && now - last < maxAgeMs) return;
  await host.sync();
  lastSync.set(host, Date.now());
}

export async function readEnvState(host: GitHost, env: EnvironmentConfig, tagFormat: string): Promise<EnvState> {
  const head = await host.branchHead(env.branch);
  const tags = await host.tags(deployTagPrefix(tagFormat, env.name));
  if (!head) return { env, head: null, tree: null, commit: null, tag: null, tags };
  const [commit, tree] = await Promise.all([host.commit(head), host.treeOf(head)]);
  return { env, head, tree, commit, tag: tags.find((t) => t.sha === head) ?? null, tags };
}

export async function readAppStates(runtime: Runtime, app: AppConfig, options: { maxAgeMs?: number } = {}): Promise<EnvState[]> {
  const host = hostFor(runtime, app);
  await syncHost(host, options.maxAgeMs ?? 0);
  return Promise.all(runtime.config.environments.map((env) => readEnvState(host, env, runtime.config.git.tagFormat)));
}

/** Run fn over items with at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}
