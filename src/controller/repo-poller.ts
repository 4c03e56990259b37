/**
 * The safety net under the webhooks: each repository's branch heads are polled. GitHub
 * repositories are asked conditionally (ETag / If-None-Match), so a quiet repository answers
 * 304 and costs no rate limit, and GitHub's X-Poll-Interval is honoured. Plain Git remotes are
 * asked with `git ls-remote`. Only a changed answer reaches `onHeads`.
 */

import type { BranchPoll } from '../adapters/github.js';
import { mapLimit } from '../core/env-state.js';
import { isConveyorError } from '../core/errors.js';

export interface PollSource {
  app: string;
  /** Conditional poll: 304 when nothing changed since the answer that carried `etag`. */
  poll(etag: string | null): Promise<BranchPoll>;
}

export interface RepoPollerOptions {
  sources: PollSource[];
  /** Base interval (config `git.pollInterval`). */
  intervalMs: number;
  onHeads(app: string, heads: Record<string, string>): Promise<void>;
  /**
   * After every successful poll (changed or not, `onHeads` done): the mirror matches upstream's
   * heads. Awaited, so a pass (and `pollAll`) ends with what it warms (the controller reads each
   * mirror's refs once here, so the first `list` after start finds them in memory).
   */
  onPolled?(app: string, nextWithinMs: number): void | Promise<void>;
  /** After every pass: how many sources it polled, how long it took, and how long it waited for the one before. */
  onPass?(pass: PassReport): void;
  log?: { warn(obj: object, msg: string): void };
  /** Polls in flight at once (default 16). */
  concurrency?: number;
  /**
   * The longest one source's poll may take (default 5 min): past it the poll counts as failed
   * and the pass goes on, whatever the source is waiting for (its Git and HTTP calls have time
   * limits of their own; this one holds even for a source that has none).
   */
  pollTimeoutMs?: number;
}

/** One pass of the poller, as `onPass` hears of it. */
export interface PassReport {
  polled: number;
  ms: number;
  /** Time spent waiting for the pass before it to end (passes never overlap). */
  waitedMs: number;
  /** The pass took longer than the base interval. */
  overran: boolean;
}

interface SourceState {
  source: PollSource;
  etag: string | null;
  /** Last heads seen, to pass on only real changes (ls-remote has no ETag). */
  last: string | null;
  dueAt: number;
  intervalMs: number;
  /** When its last poll started (0: never). */
  polledAt: number;
}

/** `git ls-remote --heads` output → branch → sha. */
export function parseLsRemote(out: string): Record<string, string> {
  const heads: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{40})\trefs\/heads\/(\S+)$/.exec(line.trim());
    if (m) heads[m[2]!] = m[1]!;
  }
  return heads;
}

/** A PollSource for a plain Git remote: `git ls-remote` through its mirror; no ETag. */
export function lsRemoteSource(app: string, lsRemote: () => Promise<string>): PollSource {
  return {
    app,
    async poll() {
      return { status: 200, etag: null, pollInterval: null, heads: parseLsRemote(await lsRemote()) };
    },
  };
}

export class RepoPoller {
  private readonly states: SourceState[];
  private timer?: NodeJS.Timeout;
  private running = false;
  /** The last pass asked for: every pass chains behind the one before, so two never overlap. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: RepoPollerOptions) {
    this.states = options.sources.map((source) => ({
      source,
      etag: null,
      last: null,
      dueAt: 0,
      intervalMs: options.intervalMs,
      polledAt: 0,
    }));
  }

  start(): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      void this.pollDue().finally(() => {
        if (!this.running) return;
        let next = Date.now() + this.options.intervalMs;
        for (const s of this.states) if (s.dueAt < next) next = s.dueAt;
        this.timer = setTimeout(loop, Math.max(50, next - Date.now())).unref();
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.chain;
  }

  /**
   * Poll every source whose time has come (with `all`: every source not polled since this
   * call). A pass under way is waited for, never overlapped: `pollAll` during the loop's pass
   * polls only what that pass has not reached.
   */
  pollDue(all = false): Promise<void> {
    const askedAt = Date.now();
    const run = async () => {
      const started = Date.now();
      const due = this.states.filter((s) => (all ? s.polledAt < askedAt : s.dueAt <= started));
      await mapLimit(due, this.options.concurrency ?? 16, (s) => this.pollOne(s));
      const ms = Date.now() - started;
      if (due.length)
        this.options.onPass?.({
          polled: due.length,
          ms,
          waitedMs: started - askedAt,
          overran: ms > this.options.intervalMs,
        });
    };
    const pass = this.chain.then(run, run);
    this.chain = pass.catch(() => undefined);
    return pass;
  }

  pollAll(): Promise<void> {
    return this.pollDue(true);
  }

  private async pollOne(s: SourceState): Promise<void> {
    s.polledAt = Date.now();
    try {
      const answer = await withinTime(s.source.poll(s.etag), this.options.pollTimeoutMs ?? 300_000);
      if (answer.status === 200) {
        s.etag = answer.etag;
        if (answer.pollInterval) s.intervalMs = Math.max(this.options.intervalMs, answer.pollInterval * 1000);
        const fingerprint = JSON.stringify(Object.entries(answer.heads).sort());
        if (fingerprint !== s.last) {
          s.last = fingerprint;
          await this.options.onHeads(s.source.app, answer.heads);
        }
      }
      await this.options.onPolled?.(s.source.app, s.intervalMs);
    } catch (err) {
      s.etag = null; // ask again in full next time
      s.last = null;
      this.options.log?.warn(
        { app: s.source.app, err: isConveyorError(err) ? err.message : String(err) },
        'repository poll failed',
      );
    } finally {
      s.dueAt = Date.now() + s.intervalMs;
    }
  }
}

/** `work`, or a rejection once `ms` have passed without its answer (the work itself goes on). */
function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 100) / 10} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
