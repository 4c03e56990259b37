/**
 * The work that follows Slack's acks (a command's run and its reply), acks first. Slack wants
 * each request answered within 3 s, and a reply can come later; under a burst of requests the
 * work runs one at a time, so the requests keep the event loop and the CPU (a dry run's Git
 * processes compete for the same cores), and back at `concurrency` once the burst is over.
 * Work never stops: one piece always runs while any waits, so nothing queued starves.
 */
export interface AckFirstQueueOptions {
  /** Pieces of work at once when Slack is quiet. */
  concurrency: number;
  /** A burst: at least `burstAcks` acks in the last `burstWindowMs` (default 10 in 250 ms, 40/s). */
  burstAcks?: number;
  burstWindowMs?: number;
  now?: () => number;
}

export class AckFirstQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** When the recent acks happened, oldest first (at most `burstAcks` kept). */
  private readonly acks: number[] = [];
  private readonly burstAcks: number;
  private readonly burstWindowMs: number;
  private readonly now: () => number;

  constructor(private readonly o: AckFirstQueueOptions) {
    this.burstAcks = o.burstAcks ?? 10;
    this.burstWindowMs = o.burstWindowMs ?? 250;
    this.now = o.now ?? Date.now;
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
      this.waiting.push(() => {
        this.running++;
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            // After the I/O already waiting (the next requests to ack), not before it.
            setImmediate(() => this.pump());
          });
      });
      this.pump();
    });
  }

  private pump(): void {
    const limit = this.inBurst() ? 1 : this.o.concurrency;
    while (this.running < limit && this.waiting.length) this.waiting.shift()!();
  }
}
