/**
 * The work after Slack's acks: a few at a time when Slack is quiet, held while acks come in a
 * burst (so the requests keep the CPU and the store), and never starved: once the oldest piece
 * has waited its hold, one runs even in a burst. The clock and the queue's timer are the
 * test's, so the burst is exact.
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

/** A queue at concurrency 3 (burst: 10 acks in 250 ms, hold 2 s) on the test's clock; its looks run when the test says. */
function withTestClock() {
  const t = {
    now: 0,
    looks: [] as Array<() => void>,
    queue: undefined as unknown as AckFirstQueue,
  };
  t.queue = new AckFirstQueue({
    concurrency: 3,
    burstAcks: 10,
    burstWindowMs: 250,
    maxHoldMs: 2000,
    now: () => t.now,
    later: (fn) => t.looks.push(fn),
  });
  return t;
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

  it('holds the work while acks come in a burst, and runs it at full width when the burst is over', async () => {
    const t = withTestClock();
    const { queue, looks } = t;
    const h = harness(queue);
    // Ten acks within 100 ms: a burst.
    for (let i = 0; i < 10; i++) {
      queue.noteAck();
      t.now += 10;
    }
    expect(queue.inBurst()).toBe(true);
    const done = [1, 2, 3, 4].map(h.add);
    await h.settle();
    expect(h.started).toEqual([]);
    expect(queue.size).toBe(4);

    // More acks: still a burst; the queue looks again and still waits.
    t.now += 100;
    queue.noteAck();
    for (const look of looks.splice(0)) look();
    await h.settle();
    expect(h.started).toEqual([]);

    // 250 ms without an ack: the burst is over; the queue's next look starts three at once.
    t.now += 300;
    expect(queue.inBurst()).toBe(false);
    expect(looks.length).toBeGreaterThan(0);
    for (const look of looks.splice(0)) look();
    await h.settle();
    expect(h.started).toEqual([1, 2, 3]);
    expect(h.running()).toBe(3);
    await h.releaseAll();
    expect(await Promise.all(done)).toEqual([1, 2, 3, 4]);
    expect(h.most()).toBe(3);
  });

  it('a burst that does not end still gets its work done, one piece at a time once the oldest has waited', async () => {
    const t = withTestClock();
    const { queue, looks } = t;
    const h = harness(queue);
    const ackFor = (ms: number) => {
      for (let at = 0; at < ms; at += 10) {
        queue.noteAck();
        t.now += 10;
      }
    };
    ackFor(100);
    const done = [1, 2, 3].map(h.add);
    ackFor(1500);
    for (const look of looks.splice(0)) look();
    await h.settle();
    expect(h.started).toEqual([]);
    // Past 2 s of waiting, with nothing running, the oldest piece runs, alone.
    ackFor(500);
    for (const look of looks.splice(0)) look();
    await h.settle();
    expect(h.started).toEqual([1]);
    expect(h.running()).toBe(1);
    // The burst goes on: each piece starts when the one before is done.
    await h.releaseAll();
    expect(h.started).toEqual([1, 2, 3]);
    expect(h.most()).toBe(1);
    expect(await Promise.all(done)).toEqual([1, 2, 3]);
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
