/**
 * When a journal in the export folder counts as finished, so that journal-watch may take it:
 *
 * - its sidecar declares `size` and `sha256` and the file has exactly that size: at once (the
 *   upload then checks every byte against the declared sha256 before it completes);
 * - otherwise once its size and modification time have not changed for `stableMs`.
 *
 * Every event on a file or its sidecar calls `seen(name)`; `ready(name)` is called when the file
 * is finished, missing, or not a regular file (the watcher decides what to do with those).
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { declaredContent } from './journal-rules.js';

const META_SUFFIX = '.meta.json';

interface Settling {
  size: number;
  mtimeMs: number;
  timer: NodeJS.Timeout;
}

export class Arrivals {
  private readonly settling = new Map<string, Settling>();
  /** Names being checked now; true when another event came in meanwhile (check again after). */
  private readonly checking = new Map<string, boolean>();
  private stopped = false;

  constructor(
    private readonly dir: string,
    private readonly stableMs: number,
    private readonly ready: (name: string) => void,
    private readonly onError: (err: unknown, name: string) => void,
  ) {}

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

  private async check(name: string): Promise<void> {
    const full = path.join(this.dir, name);
    const st = await lstat(full).catch(() => null);
    if (this.stopped) return;
    if (!st?.isFile()) {
      this.forget(name);
      this.ready(name);
      return;
    }
    const declared = await readFile(`${full}${META_SUFFIX}`, 'utf8').then(declaredContent, () => null);
    if (this.stopped) return;
    if (declared && declared.size === st.size) {
      this.forget(name);
      this.ready(name);
      return;
    }
    const known = this.settling.get(name);
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return; // its timer runs on
    this.settleFrom(name, st.size, st.mtimeMs);
  }

  /** (Re)start the quiet period of `name` from this size and modification time. */
  private settleFrom(name: string, size: number, mtimeMs: number): void {
    this.forget(name);
    const timer = setTimeout(() => {
      this.settling.delete(name);
      lstat(path.join(this.dir, name))
        .then(
          (st) => {
            if (this.stopped) return;
            if (st.isFile() && (st.size !== size || st.mtimeMs !== mtimeMs)) this.settleFrom(name, st.size, st.mtimeMs);
            else this.ready(name);
          },
          () => this.ready(name),
        )
        .catch((err: unknown) => this.onError(err, name));
    }, this.stableMs);
    timer.unref();
    this.settling.set(name, { size, mtimeMs, timer });
  }

  private forget(name: string): void {
    const s = this.settling.get(name);
    if (s) clearTimeout(s.timer);
    this.settling.delete(name);
  }
}
