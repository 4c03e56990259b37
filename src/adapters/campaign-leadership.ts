import type { Leadership } from '../core/ports.js';

/**
 * The loop both elected leaderships share: a tick on a timer (acquire or renew), the next one
 * scheduled when it ends, and `onChange` told of every change of leadership.
 */
export abstract class CampaignLeadership implements Leadership {
  protected leader = false;
  protected running = false;
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private onChange: (leader: boolean) => void = () => {};

  /** One attempt to acquire, or to renew what is held. */
  protected abstract tick(): Promise<void>;
  /** How long until the next tick (after the one that just ended). */
  protected abstract nextTickMs(): number;
  abstract stop(): Promise<void>;

  isLeader(): boolean {
    return this.leader;
  }

  start(onChange: (leader: boolean) => void): void {
    if (this.running) return;
    this.running = true;
    this.onChange = onChange;
    this.schedule(0);
  }

  /** Stop ticking and wait for a tick in flight; then the subclass hands back what it holds. */
  protected async halt(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  protected setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.onChange(leader);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.tick().finally(() => this.schedule(this.nextTickMs()));
    }, ms);
  }
}
