/**
 * The work that follows Slack's acks (a command's run and its reply), acks first. Slack wants
 * each request answered within 3 s, and a reply can come later. While acks come in a burst the
 * work waits, so the requests keep the event loop, the embedded store (each ack writes the
 * request to the inbox first; a command's queries ahead of it in the store's queue would hold
 * it) and the CPU (a dry run's Git processes compete for the same cores); when the burst is
 * over, the work runs `concurrency` pieces at once.
 *
 * Work never starves: when the oldest piece has waited `maxHoldMs` (2 s) and nothing runs, one
 * piece starts even during a burst, so a burst that does not end still sees its work done one
 * piece at a time.
 */
export interface AckFirstQueueOptions {
  /** Pieces of work at once when Slack is quiet. */
  concurrency: number;
  /** A burst: at least `burstAcks` acks in the last `burstWindowMs` (default 10 in 250 ms, 40/s). */
  burstAcks?: number;
  burstWindowMs?: number;
  /** The longest the oldest piece waits behind a burst before one runs anyway (default 2000 ms). */
  maxHoldMs?: number;
  now?: () => number;
  /** Calls `fn` after `ms` (default: an unref'd `setTimeout`); the queue looks again then. */
  later?: (fn: () => void, ms: number) => void;
}

interface Waiting {
  at: number;
  start: () => void;
}

export class AckFirstQueue {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  /** When the recent acks happened, oldest first (at most `burstAcks` kept). */
  private readonly acks: number[] = [];
  private readonly burstAcks: number;
  private readonly burstWindowMs: number;
  private readonly maxHoldMs: number;
  private readonly now: () => number;
  private readonly later: (fn: () => void, ms: number) => void;
  /** When the queue has asked to look again (none: no look pending). */
  private lookAt: number | undefined;

  constructor(private readonly o: AckFirstQueueOptions) {
    this.burstAcks = o.burstAcks ?? 10;
    this.burstWindowMs = o.burstWindowMs ?? 250;
    this.maxHoldMs = o.maxHoldMs ?? 2000;
    this.now = o.now ?? Date.now;
    this.later = o.later ?? ((fn, ms) => setTimeout(fn, ms).unref());
  }

  /** One request acked. */
  noteAck(): void {
    this.acks.push(this.now());
    if (this.acks.length > this.burstAcks) this.acks.shift();
  }

  /** True while acks arrive faster than the burst rate. */
  inBurst(): boolean {
    return this.acks.length >= this.burstAcks && this.now() - this.acks[0]! < this.burstWindowMs;
  }

  /** Pieces of work running or waiting. */
  get size(): number {
    return this.running + this.waiting.length;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        at: this.now(),
        start: () => {
          this.running++;
          Promise.resolve()
            .then(task)
            .then(resolve, reject)
            .finally(() => {
              this.running--;
              // After the I/O already waiting (the next requests to ack), not before it.
              setImmediate(() => this.pump());
            });
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length) {
      const now = this.now();
      if (!this.inBurst()) {
        if (this.running >= this.o.concurrency) return;
        this.waiting.shift()!.start();
        continue;
      }
      const held = now - this.waiting[0]!.at;
      if (this.running === 0 && held >= this.maxHoldMs) {
        this.waiting.shift()!.start();
        continue;
      }
      // Look again when the burst may be over, or (nothing running) the oldest's hold is up.
      const burstOver = this.acks[0]! + this.burstWindowMs - now;
      this.lookAgain(this.running === 0 ? Math.min(burstOver, this.maxHoldMs - held) : burstOver);
      return;
    }
  }

  private lookAgain(ms: number): void {
    const at = this.now() + Math.max(1, ms);
    if (this.lookAt !== undefined && this.lookAt <= at) return;
    this.lookAt = at;
    this.later(
      () => {
        if (this.lookAt === at) this.lookAt = undefined;
        this.pump();
      },
      Math.max(1, ms),
    );
  }
}
