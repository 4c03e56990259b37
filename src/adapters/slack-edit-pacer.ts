/**
 * Paces the edits of one Slack message: at most one `chat.update` per interval (default one
 * second, Slack's pace for a channel) per message. Edits asked for in between are coalesced:
 * only the latest waits, and it is always sent — the message never stops on an intermediate
 * state. The next edit starts no sooner than `intervalMs` after the previous one was answered.
 */

export interface EditPacerOptions {
  intervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Waiter {
  version: number;
  resolve(): void;
  reject(err: unknown): void;
}

interface Slot {
  lastAt: number;
  version: number;
  sent: number;
  latest: (() => Promise<void>) | null;
  running: Promise<void> | null;
  waiters: Waiter[];
}

export interface PacedEdit {
  /** True when this edit goes out at once (no edit of this message in the last interval). */
  immediate: boolean;
  /** Settles when this edit, or a later one that superseded it, has been answered. */
  done: Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class EditPacer {
  private readonly slots = new Map<string, Slot>();
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: EditPacerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleepFor;
  }

  /** Ask for an edit of `key` (a message); `send` performs it. */
  submit(key: string, send: () => Promise<void>): PacedEdit {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { lastAt: Number.NEGATIVE_INFINITY, version: 0, sent: 0, latest: null, running: null, waiters: [] };
      this.slots.set(key, slot);
    }
    slot.version += 1;
    slot.latest = send;
    const version = slot.version;
    const immediate = !slot.running && this.now() - slot.lastAt >= this.intervalMs;
    const done = new Promise<void>((resolve, reject) => slot.waiters.push({ version, resolve, reject }));
    done.catch(() => undefined); // a caller that does not wait is told through its own logging
    if (!slot.running) slot.running = this.pump(key, slot);
    return { immediate, done };
  }

  /** Resolves when every edit asked for so far has been sent. */
  async idle(): Promise<void> {
    while ([...this.slots.values()].some((s) => s.running)) {
      await Promise.all([...this.slots.values()].map((s) => s.running));
    }
  }

  private async pump(key: string, slot: Slot): Promise<void> {
    while (slot.sent < slot.version) {
      for (
        let wait = slot.lastAt + this.intervalMs - this.now();
        wait > 0;
        wait = slot.lastAt + this.intervalMs - this.now()
      ) {
        await this.sleep(wait);
      }
      const version = slot.version;
      const send = slot.latest!;
      slot.latest = null;
      let failure: { err: unknown } | null = null;
      try {
        await send();
      } catch (err) {
        failure = { err };
      }
      slot.lastAt = this.now();
      slot.sent = version;
      const settled = slot.waiters.filter((w) => w.version <= version);
      slot.waiters = slot.waiters.filter((w) => w.version > version);
      for (const w of settled) failure ? w.reject(failure.err) : w.resolve();
    }
    slot.running = null;
    this.prune(key);
  }

  /** Forget messages not edited for a while (their pace no longer matters). */
  private prune(justDone: string): void {
    if (this.slots.size < 1000) return;
    const stale = this.now() - this.intervalMs;
    for (const [key, slot] of this.slots)
      if (key !== justDone && !slot.running && slot.lastAt < stale) this.slots.delete(key);
  }
}
