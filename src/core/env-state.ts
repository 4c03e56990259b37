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

/**
 * How fresh each mirror is known to be: when this process last fetched it, and when a watcher
 * (the controller's repository poller) last saw upstream agree with it, with the window the
 * watcher vouches for (it looks again within that).
 */
interface Freshness {
  fetchedAt?: number;
  confirmedAt?: number;
  windowMs?: number;
}
const freshness = new WeakMap<GitHost, Freshness>();

/** The fetch of each mirror under way, and when it started: readers that accept its age join it. */
const inflight = new WeakMap<GitHost, { startedAt: number; done: Promise<void> }>();

export function hostFor(runtime: Runtime, app: AppConfig): GitHost {
  const host = runtime.git.get(app.name);
  if (!host) throw new UpstreamError('git', `no repository is connected for ${app.name}`);
  return host;
}

/**
 * Fetch the mirror unless it is fresh: fetched within `maxAgeMs`, or (readers that show state,
 * with `trustWatcher`) confirmed by a watcher within its window. `maxAgeMs` 0 always syncs (on
 * GitHub, by one GraphQL read rather than a fetch, unless `fetch`).
 */
export async function syncHost(
  host: GitHost,
  maxAgeMs = 0,
  options: { trustWatcher?: boolean; now?: number; fetch?: boolean } = {},
): Promise<void> {
  const f = freshness.get(host);
  const now = options.now ?? Date.now();
  if (maxAgeMs > 0) {
    if (f?.fetchedAt !== undefined && now - f.fetchedAt < maxAgeMs) return;
    if (options.trustWatcher && f?.confirmedAt !== undefined && now - f.confirmedAt < (f.windowMs ?? 0)) return;
    // Identical concurrent reads share one fetch: one that started within the accepted age is
    // as fresh as a new one would be allowed to be (planners, with 0, always fetch their own).
    const running = inflight.get(host);
    if (running && now - running.startedAt < maxAgeMs) return running.done;
  }
  const startedAt = Date.now();
  // Readers with a window fetch the mirror itself: only a plan needs the remote's state this instant.
  const done = host.sync(maxAgeMs > 0 || options.fetch ? { fetch: true } : undefined).then(() => {
    freshness.set(host, { ...freshness.get(host), fetchedAt: startedAt });
  });
  inflight.set(host, { startedAt, done });
  try {
    await done;
  } finally {
    if (inflight.get(host)?.done === done) inflight.delete(host);
  }
}

/**
 * A watcher saw upstream's branch heads match the mirror and will look again within
 * `everyMs`: readers that accept a few seconds' staleness need not fetch until twice that.
 */
export function confirmFresh(host: GitHost, everyMs: number, now = Date.now()): void {
  freshness.set(host, { ...freshness.get(host), confirmedAt: now, windowMs: 2 * everyMs });
}

/** Conveyor wrote to the repository: the mirror is behind until its next fetch. */
export function markStale(host: GitHost): void {
  freshness.delete(host);
  inflight.delete(host); // a fetch under way may have started before the write
}

/** Every environment's state of one app in one read of its mirror. */
export async function readEnvStates(host: GitHost, envs: EnvironmentConfig[], tagFormat: string): Promise<EnvState[]> {
  const prefixes = envs.map((env) => deployTagPrefix(tagFormat, env.name));
  const snapshot = await host.refsSnapshot([...new Set(envs.map((e) => e.branch))], [...new Set(prefixes)]);
  return envs.map((env, i) => {
    const tags = snapshot.tags.get(prefixes[i]!) ?? [];
    const head = snapshot.heads.get(env.branch);
    if (!head) return { env, head: null, tree: null, commit: null, tag: null, tags };
    return {
      env,
      head: head.commit.sha,
      tree: head.tree,
      commit: head.commit,
      tag: tags.find((t) => t.sha === head.commit.sha) ?? null,
      tags,
    };
  });
}

/**
 * What every environment of an app runs. Planners fetch first (`maxAgeMs` 0); chat readers
 * accept a mirror fetched within `maxAgeMs` or vouched for by the controller's poller.
 */
export async function readAppStates(
  runtime: Runtime,
  app: AppConfig,
  options: { maxAgeMs?: number; trustWatcher?: boolean; fetch?: boolean } = {},
): Promise<EnvState[]> {
  const host = hostFor(runtime, app);
  // Readers that show state (trustWatcher) fetch the mirror itself, never spending API rate
  // limit; so do plans that choose what ships from the deploy tags (`fetch`: a rollback).
  await syncHost(host, options.maxAgeMs ?? 0, {
    trustWatcher: options.trustWatcher,
    fetch: options.trustWatcher || options.fetch,
  });
  return readEnvStates(host, runtime.config.environments, runtime.config.git.tagFormat);
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
