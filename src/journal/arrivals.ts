/**
 * When a journal in the export folder counts as finished, so that journal-watch may take it:
 *
 * - its sidecar declares `size` and `sha256` and the file has exactly that size: at once (the
 *   upload then checks every byte against the declared sha256 before it completes);
 * - otherwise once its size and modification time have not changed for `stableMs`.
 *
 * Every event on a file or its sidecar calls `seen(name)`; `ready(name)` is called when the file
 * is finished or is not a regular file (the watcher refuses those). A missing file waits for its
 * own event.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type DeclaredContent, declaredContent } from './journal-rules.js';

const META_SUFFIX = '.meta.json';

interface Settling {
  size: number;
  mtimeMs: number;
  /** When this size and modification time were first seen (performance.now()). */
  since: number;
  timer: NodeJS.Timeout;
  /** The sidecar as last read: its size and modification time, and what it declares. */
  sidecar: { size: number; mtimeMs: number; declared: DeclaredContent | null } | null;
}

export class Arrivals {
  private readonly settling = new Map<string, Settling>();
  /** Names being checked now; true when another event came in meanwhile (check again after). */
  private readonly checking = new Map<string, boolean>();
  private readonly pollMs: number;
  private stopped = false;

  constructor(
    private readonly dir: string,
    private readonly stableMs: number,
    private readonly ready: (name: string) => void,
    private readonly onError: (err: unknown, name: string) => void,
  ) {
    // Events alone are not enough: two writes within one timestamp tick may yield one event.
    this.pollMs = Math.max(20, Math.min(100, stableMs / 4));
  }

  seen(name: string): void {
    if (this.stopped) return;
    if (this.checking.has(name)) {
      this.checking.set(name, true);
      return;
    }
    this.checking.set(name, false);
    this.check(name)
      .catch((err: unknown) => this.onError(err, name))
      .finally(() => {
        const again = this.checking.get(name);
        this.checking.delete(name);
        if (again) this.seen(name);
      });
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.settling.values()) clearTimeout(s.timer);
    this.settling.clear();
  }

  /** One look at the file: finished, or look again in `pollMs`. */
  private async check(name: string): Promise<void> {
    const full = path.join(this.dir, name);
    const st = await lstat(full).catch(() => null);
    if (this.stopped) return;
    const known = this.settling.get(name);
    if (known) clearTimeout(known.timer);
    if (!st) {
      // Not there (yet): a sidecar written first says nothing until its journal appears.
      this.settling.delete(name);
      return;
    }
    if (!st.isFile()) return this.finished(name);
    const sidecar = await this.sidecarOf(full, known?.sidecar ?? null);
    if (this.stopped) return;
    if (sidecar?.declared && sidecar.declared.size === st.size) return this.finished(name);
    const now = performance.now();
    const same = known && known.size === st.size && known.mtimeMs === st.mtimeMs;
    // An empty file is most often one being created: it gets a longer quiet period.
    const quiet = st.size === 0 ? Math.max(5 * this.stableMs, 1000) : this.stableMs;
    if (same && now - known.since >= quiet) return this.finished(name);
    const timer = setTimeout(() => this.seen(name), this.pollMs);
    timer.unref();
    this.settling.set(name, { size: st.size, mtimeMs: st.mtimeMs, since: same ? known.since : now, timer, sidecar });
  }

  /** The sidecar, read again only when its size or modification time changed. */
  private async sidecarOf(full: string, last: Settling['sidecar']): Promise<Settling['sidecar']> {
    const file = `${full}${META_SUFFIX}`;
    const st = await lstat(file).catch(() => null);
    if (!st?.isFile()) return null;
    if (last && last.size === st.size && last.mtimeMs === st.mtimeMs) return last;
    const text = await readFile(file, 'utf8').catch(() => null);
    return { size: st.size, mtimeMs: st.mtimeMs, declared: text === null ? null : declaredContent(text) };
  }

  private finished(name: string): void {
    this.settling.delete(name);
    this.ready(name);
  }
}
