/**
 * How readers and planners fetch a mirror: identical concurrent reads share one fetch, planners
 * always fetch their own, and Conveyor's own write is never hidden by a fetch that began before it.
 */
import { describe, expect, it } from 'vitest';
import { markStale, syncHost } from '../../src/core/env-state.js';
import type { GitHost } from '../../src/core/ports.js';

/** A host whose fetches finish when the test says so, counting them. */
function slowHost() {
  const waiting: (() => void)[] = [];
  const host = {
    fetches: 0,
    sync() {
      host.fetches++;
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    finishAll() {
      for (const done of waiting.splice(0)) done();
    },
  };
  return { host, asGitHost: host as unknown as GitHost };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('syncHost', () => {
  it('fifty concurrent reads of a stale mirror make one fetch, and all wait for it', async () => {
    const { host, asGitHost } = slowHost();
    let settled = 0;
    const reads = Array.from({ length: 50 }, () => syncHost(asGitHost, 5_000).then(() => settled++));
    await tick();
    expect(host.fetches).toBe(1);
    expect(settled).toBe(0); // nobody answers from the stale mirror
    host.finishAll();
    await Promise.all(reads);
    expect(settled).toBe(50);
    // Fresh now: the next read within the window fetches nothing.
    await syncHost(asGitHost, 5_000);
    expect(host.fetches).toBe(1);
  });

  it('planners (max age 0) never join another fetch', async () => {
    const { host, asGitHost } = slowHost();
    const read = syncHost(asGitHost, 5_000);
    const plans = [syncHost(asGitHost, 0), syncHost(asGitHost, 0)];
    await tick();
    expect(host.fetches).toBe(3);
    host.finishAll();
    await Promise.all([read, ...plans]);
  });

  it('after Conveyor writes (markStale), a read does not join the fetch that began before the write', async () => {
    const { host, asGitHost } = slowHost();
    const before = syncHost(asGitHost, 5_000);
    await tick();
    markStale(asGitHost);
    const after = syncHost(asGitHost, 5_000);
    await tick();
    expect(host.fetches).toBe(2);
    host.finishAll();
    await Promise.all([before, after]);
  });
});
