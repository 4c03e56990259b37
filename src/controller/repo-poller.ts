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
  log?: { warn(obj: object, msg: string): void };
  concurrency?: number;
}

interface SourceState {
  source: PollSource;
  etag: string | null;
  /** Last heads seen, to pass on only real changes (ls-remote has no ETag). */
  last: string | null;
  dueAt: number;
  intervalMs: number;
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
  private passing: Promise<void> = Promise.resolve();

  constructor(private readonly options: RepoPollerOptions) {
    this.states = options.sources.map((source) => ({
      source,
      etag: null,
      last: null,
      dueAt: 0,
      intervalMs: options.intervalMs,
    }));
  }

  start(): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.passing = this.pollDue().finally(() => {
        if (!this.running) return;
        const next = Math.min(...this.states.map((s) => s.dueAt), Date.now() + this.options.intervalMs);
        this.timer = setTimeout(loop, Math.max(50, next - Date.now())).unref();
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.passing;
  }

  /** Poll every source whose time has come (all of them with `all`). */
  async pollDue(all = false): Promise<void> {
    const now = Date.now();
    const due = this.states.filter((s) => all || s.dueAt <= now);
    await mapLimit(due, this.options.concurrency ?? 8, (s) => this.pollOne(s));
  }

  pollAll(): Promise<void> {
    return this.pollDue(true);
  }

  private async pollOne(s: SourceState): Promise<void> {
    try {
      const answer = await s.source.poll(s.etag);
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
