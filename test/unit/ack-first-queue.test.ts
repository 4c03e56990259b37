/**
 * The work after Slack's acks: a few at a time when Slack is quiet, one at a time while acks
 * come in a burst (so the requests keep the CPU), and never stalled: one piece always runs
 * while any waits. The clock is the test's, so the burst is exact.
 */
import { describe, expect, it } from 'vitest';
import { AckFirstQueue } from '../../src/server/slack/work-queue.js';

/** A piece of work that runs until released; records how many ran at once. */
function harness(queue: AckFirstQueue) {
  let running = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const add = (n: number) =>
    queue.run(async () => {
      started.push(n);
      running++;
      most = Math.max(most, running);
      await new Promise<void>((r) => releases.push(r));
      running--;
      return n;
    });
  const settle = () => new Promise((r) => setTimeout(r, 5));
  return {
    add,
    settle,
    started,
    most: () => most,
    running: () => running,
    releaseAll: async () => {
      while (releases.length || running) {
        for (const r of releases.splice(0)) r();
        await settle();
      }
    },
  };
}

describe('AckFirstQueue', () => {
  it('runs `concurrency` pieces at once while Slack is quiet', async () => {
    let now = 0;
    const queue = new AckFirstQueue({ concurrency: 3, now: () => now });
    const h = harness(queue);
    const done = [1, 2, 3, 4, 5].map(h.add);
    await h.settle();
    expect(h.running()).toBe(3);
    now += 1000;
    await h.releaseAll();
    expect(await Promise.all(done)).toEqual([1, 2, 3, 4, 5]);
    expect(h.most()).toBe(3);
    expect(queue.size).toBe(0);
  });

  it('runs one piece at a time during a burst of acks, in order, and widens again when it is over', async () => {
    let now = 0;
    const queue = new AckFirstQueue({ concurrency: 3, burstAcks: 10, burstWindowMs: 250, now: () => now });
    const h = harness(queue);
    // Ten acks within 100 ms: a burst.
    for (let i = 0; i < 10; i++) {
      queue.noteAck();
      now += 10;
    }
    expect(queue.inBurst()).toBe(true);
    const done = [1, 2, 3, 4].map(h.add);
    await h.settle();
    expect(h.running()).toBe(1);
    expect(h.started).toEqual([1]);
    // The burst goes on: the next piece starts only when the first is done.
    await h.releaseAll();
    expect(h.most()).toBe(1);
    expect(h.started).toEqual([1, 2, 3, 4]);
    expect(await Promise.all(done)).toEqual([1, 2, 3, 4]);

    // 250 ms without an ack: the burst is over, and the work widens to 3 again.
    now += 300;
    expect(queue.inBurst()).toBe(false);
    const later = [5, 6, 7, 8].map(h.add);
    await h.settle();
    expect(h.running()).toBe(3);
    await h.releaseAll();
    expect(await Promise.all(later)).toEqual([5, 6, 7, 8]);
  });

  it('acks slower than the burst rate do not narrow the work', () => {
    let now = 0;
    const queue = new AckFirstQueue({ concurrency: 4, burstAcks: 10, burstWindowMs: 250, now: () => now });
    for (let i = 0; i < 100; i++) {
      queue.noteAck();
      now += 30; // 33 acks a second, under the 40 of a burst
      expect(queue.inBurst()).toBe(false);
    }
  });

  it('a failing piece rejects only its own promise and the queue goes on', async () => {
    const queue = new AckFirstQueue({ concurrency: 1 });
    const bad = queue.run(async () => {
      throw new Error('boom');
    });
    const good = queue.run(async () => 'ok');
    await expect(bad).rejects.toThrow('boom');
    await expect(good).resolves.toBe('ok');
    expect(queue.size).toBe(0);
  });
});
