/**
 * Registry discovery for image apps: poll each app's repository (the client sends If-None-Match
 * and backs off on 429/5xx by itself), and look at once when a registry webhook says something
 * was pushed. The newest tag the app's policy accepts is resolved to its digest; when the first
 * environment's GitOps file names another image, that image is written there — exactly once per
 * digest, across restarts and replicas, by a claim on the store's idempotency keys before the
 * write (a failed write gives the claim back).
 */
import {
  type ImagePolicy,
  needsPushTime,
  rankTags,
  type TagCandidate,
  tagFilter,
} from '../core/images/image-policy.js';
import { formatVersion } from '../core/images/image-ref.js';
import type { IdempotencyStore, ImageEnvironments, ImageRegistry, Notifier } from '../core/ports.js';

export interface DiscoveryApp {
  name: string;
  /** The repository inside its registry: `team/worker`. */
  repository: string;
  /** For messages: `registry.example.com/team/worker`. */
  display: string;
  policy: ImagePolicy;
  firstEnv: string;
  channel?: string;
  pollMs: number;
}

export type LookResult =
  | { outcome: 'deployed'; tag: string; digest: string }
  | { outcome: 'current' | 'seen'; tag: string; digest: string }
  | { outcome: 'unchanged' | 'no-match' };

export interface DiscoveryDeps {
  apps: DiscoveryApp[];
  registryOf(app: string): ImageRegistry;
  environmentsOf(app: string): ImageEnvironments;
  idempotency: Pick<IdempotencyStore, 'claimKey' | 'forgetKey'>;
  notifier?: Notifier;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Called after each deploy (metrics, benches). */
  onDeployed?(app: string, result: LookResult): void;
  /** Longest wait after failures (default the app's poll interval). */
  maxBackoffMs?: number;
  /** Polls only while this says so (the controller's leadership); webhooks look on any replica. */
  leading?: () => boolean;
}

/** How many of the policy's newest tags are read for their push time (sort: pushed). */
const PUSHED_CANDIDATES = 50;

export class ImageDiscovery {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<LookResult>>();
  private readonly again = new Set<string>();
  private readonly lastDigest = new Map<string, string>();
  private stopped = false;

  constructor(private readonly deps: DiscoveryDeps) {}

  appsFor(repository: string): DiscoveryApp[] {
    return this.deps.apps.filter((a) => a.repository === repository || a.display === repository);
  }

  /** Look now (coalesced: a look asked for while one runs makes one more after it). */
  look(app: string): Promise<LookResult> {
    const current = this.running.get(app);
    if (current) {
      this.again.add(app);
      return current;
    }
    const run = (async () => {
      try {
        let result = await this.lookOnce(app);
        while (this.again.delete(app)) result = await this.lookOnce(app, true);
        return result;
      } finally {
        this.running.delete(app);
      }
    })();
    this.running.set(app, run);
    return run;
  }

  start(): void {
    for (const app of this.deps.apps) this.schedule(app, 0, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  private schedule(app: DiscoveryApp, delay: number, failures: number): void {
    if (this.stopped) return;
    const timer = setTimeout(async () => {
      let next = app.pollMs;
      let failed = 0;
      try {
        if (!this.deps.leading || this.deps.leading()) await this.look(app.name);
      } catch (err) {
        failed = failures + 1;
        next = Math.min(this.deps.maxBackoffMs ?? app.pollMs, 5_000 * 2 ** Math.min(failures, 10));
        this.deps.log.warn(
          { app: app.name, err: err instanceof Error ? err.message : 'error', retryInMs: next },
          'registry discovery failed',
        );
      }
      this.schedule(app, next, failed);
    }, delay);
    timer.unref();
    this.timers.set(app.name, timer);
  }

  private async lookOnce(name: string, forced = false): Promise<LookResult> {
    const app = this.deps.apps.find((a) => a.name === name);
    if (!app) return { outcome: 'no-match' };
    const registry = this.deps.registryOf(name);
    const listed = await registry.listTags(app.repository);
    if (!listed.changed && !forced && this.lastDigest.has(name)) return { outcome: 'unchanged' };
    let candidates: TagCandidate[] = listed.tags.map((tag) => ({ tag }));
    if (needsPushTime(app.policy)) {
      // The push time is in each image's config: read it for the newest-looking matches only.
      const keep = tagFilter(app.policy);
      const matching = candidates
        .filter((c) => keep(c.tag))
        .sort((a, b) => (a.tag < b.tag ? 1 : -1))
        .slice(0, PUSHED_CANDIDATES);
      candidates = [];
      for (const c of matching) {
        const p = await registry.provenance(app.repository, c.tag);
        if (p) candidates.push(p.created ? { tag: c.tag, created: p.created } : { tag: c.tag });
      }
    }
    const newest = rankTags(candidates, app.policy)[0];
    if (!newest) return { outcome: 'no-match' };
    const head = await registry.headManifest(app.repository, newest.tag);
    if (!head) return { outcome: 'no-match' };
    const found = { tag: newest.tag, digest: head.digest };
    this.lastDigest.set(name, head.digest);
    const envs = this.deps.environmentsOf(name);
    const current = await envs.currentVersion(app.firstEnv);
    if (current?.digest === head.digest) return { outcome: 'current', ...found };
    const key = `image-discovery:${name}:${head.digest}`;
    if (!(await this.deps.idempotency.claimKey(key))) return { outcome: 'seen', ...found };
    try {
      await envs.deploy(
        app.firstEnv,
        found,
        `Found ${app.display}:${formatVersion(found)} in the registry (policy ${describePolicy(app.policy)}).\n\nConveyor-Discovery: ${key}`,
      );
    } catch (err) {
      await this.deps.idempotency.forgetKey(key).catch(() => undefined);
      throw err;
    }
    const result: LookResult = { outcome: 'deployed', ...found };
    this.deps.log.info({ app: name, env: app.firstEnv, tag: found.tag, digest: found.digest }, 'new image deployed');
    this.deps.onDeployed?.(name, result);
    if (this.deps.notifier) {
      await this.deps.notifier
        .post({
          channel: app.channel ?? app.firstEnv,
          text: `${name} ${found.tag} (${found.digest.slice(0, 19)}) found in ${app.display} → deployed to ${app.firstEnv}`,
        })
        .catch(() => null);
    }
    return result;
  }
}

function describePolicy(policy: ImagePolicy): string {
  return 'semver' in policy ? `semver ${policy.semver}` : `tags ${policy.tagRegex}, newest by ${policy.sort}`;
}
