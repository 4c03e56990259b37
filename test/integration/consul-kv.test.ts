import Consul from 'consul';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsulKv } from '../../src/adapters/consul.js';
import { UpstreamError } from '../../src/core/errors.js';
import type { KvEntry } from '../../src/core/ports.js';
import { watchKey } from '../../src/core/watch-key.js';
import { ConsulFake } from '../support/consul-fake.js';

const LONG_WAIT = 60_000; // far beyond the test: a query that returns did so because of a change

/** Wait for the fake to reach a state (not a timing assertion: generous limit). */
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 10 });

let fake: ConsulFake;
let client: Consul;
const aborts: AbortController[] = [];

async function setup(options: ConstructorParameters<typeof Consul>[0] = {}, fakeOptions = {}) {
  fake = await ConsulFake.start(fakeOptions);
  client = new Consul({ host: '127.0.0.1', port: fake.port, ...options });
  return new ConsulKv(client, { requestTimeoutMs: 5000 });
}

function controller(): AbortController {
  const c = new AbortController();
  aborts.push(c);
  return c;
}

/** Pull entries from a watchKey generator one at a time. */
function follow(kv: ConsulKv, key: string, onError?: (err: unknown) => void) {
  const c = controller();
  const it = watchKey(kv, key, {
    signal: c.signal,
    waitMs: LONG_WAIT,
    backoff: { minMs: 10, maxMs: 40 },
    onError,
  });
  return { next: async () => (await it.next()).value as KvEntry | null, abort: () => c.abort() };
}

afterEach(async () => {
  for (const c of aborts.splice(0)) c.abort();
  client?.destroy();
  await fake?.close();
});

describe('ConsulKv', () => {
  it('reads and writes keys, and a lost CAS is false until retried with the fresh index', async () => {
    const kv = await setup();
    expect(await kv.get('journal_version/qa')).toBeNull();
    expect(await kv.put('journal_version/qa', '2026.01.01-dev.1', { cas: 0 })).toBe(true);
    expect(await kv.put('journal_version/qa', 'other', { cas: 0 })).toBe(false);

    const first = await kv.get('journal_version/qa');
    expect(first).toMatchObject({ key: 'journal_version/qa', value: '2026.01.01-dev.1' });

    fake.set('journal_version/qa', '2026.01.02-dev.1'); // someone else wins the race
    expect(await kv.put('journal_version/qa', '2026.01.03-dev.1', { cas: first!.modifyIndex })).toBe(false);
    expect(fake.value('journal_version/qa')).toBe('2026.01.02-dev.1');

    const fresh = await kv.get('journal_version/qa');
    expect(await kv.put('journal_version/qa', '2026.01.03-dev.1', { cas: fresh!.modifyIndex })).toBe(true);
    expect((await kv.get('journal_version/qa'))?.value).toBe('2026.01.03-dev.1');
    expect(await kv.put('plain', 'x')).toBe(true);
  });

  it('a blocking query is held by Consul and returns with the change', async () => {
    const kv = await setup();
    fake.set('journal_version/qa', 'v1');
    const initial = await kv.watch('journal_version/qa', 0, { waitMs: LONG_WAIT });
    expect(initial.entry?.value).toBe('v1');

    const pending = kv.watch('journal_version/qa', initial.index, { waitMs: LONG_WAIT });
    await until(() => expect(fake.heldRequests).toBe(1));
    fake.set('journal_version/qa', 'v2');
    const changed = await pending;
    expect(changed.entry?.value).toBe('v2');
    expect(changed.index).toBeGreaterThan(initial.index);
    expect(fake.blockingRequests).toBe(1);
    expect(fake.requests.find((r) => r.query.index)?.query.wait).toBe('60000ms');
  });

  it('watchKey yields the first state, then only real changes, without polling', async () => {
    const kv = await setup();
    const w = follow(kv, 'journal_version/qa');
    expect(await w.next()).toBeNull();
    const next = w.next();
    await until(() => expect(fake.heldRequests).toBe(1));
    fake.set('journal_version/qa', 'v1');
    expect((await next)?.value).toBe('v1');

    // Writes to other keys wake nothing here; an equal rewrite (new modifyIndex) is a change.
    const again = w.next();
    await until(() => expect(fake.heldRequests).toBe(1));
    fake.set('other', 'x');
    fake.set('journal_version/qa', 'v1');
    expect(await again).toMatchObject({ value: 'v1', modifyIndex: fake.modifyIndex('journal_version/qa') });
    // One plain read to start, everything else blocking queries.
    expect(fake.requests.filter((r) => !r.query.index)).toHaveLength(1);
  });

  it('starts over from index 0 when a snapshot restore moves the index backwards', async () => {
    const kv = await setup();
    fake.set('journal_version/qa', 'v1');
    const snap = fake.snapshot();
    for (let i = 2; i <= 20; i++) fake.set('journal_version/qa', `v${i}`);

    const w = follow(kv, 'journal_version/qa');
    expect((await w.next())?.value).toBe('v20');
    const held = kv.watch('journal_version/qa', fake.currentIndex, { waitMs: LONG_WAIT });
    const next = w.next();
    await until(() => expect(fake.heldRequests).toBe(2));

    fake.restoreSnapshot(snap);
    expect(await held).toMatchObject({ index: 0, entry: { value: 'v1' } });
    expect((await next)?.value).toBe('v1');

    // The restored cluster counts from a lower index; the watch follows it.
    const after = w.next();
    await until(() => expect(fake.heldRequests).toBe(1));
    fake.set('journal_version/qa', 'v21');
    expect((await after)?.value).toBe('v21');
  });

  it('sends the ACL token and reports a refused one as a Consul failure', async () => {
    const fakeOptions = { tokens: { 'agent-token': { writePrefixes: ['journal_version/'] } } };
    const anonymous = await setup({}, fakeOptions);
    await expect(anonymous.get('journal_version/qa')).rejects.toThrow(/permission denied/);
    client.destroy();

    client = new Consul({ host: '127.0.0.1', port: fake.port, defaults: { token: 'wrong-token' } });
    const wrong = new ConsulKv(client);
    const err = await wrong.put('journal_version/qa', 'v1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).system).toBe('consul');
    expect(String((err as Error).message)).not.toContain('wrong-token');
    client.destroy();

    client = new Consul({ host: '127.0.0.1', port: fake.port, defaults: { token: 'agent-token' } });
    const good = new ConsulKv(client);
    expect(await good.put('journal_version/qa', 'v1')).toBe(true);
    expect((await good.get('journal_version/qa'))?.value).toBe('v1');
    await expect(good.put('locks/prod', 'me')).rejects.toThrow(/permission denied/);
  });

  it('reports Consul down as UpstreamError; watchKey backs off and recovers', async () => {
    const kv = await setup();
    fake.set('journal_version/qa', 'v1');
    fake.setDown(true);
    await expect(kv.get('journal_version/qa')).rejects.toBeInstanceOf(UpstreamError);

    const errors: unknown[] = [];
    const w = follow(kv, 'journal_version/qa', (err) => errors.push(err));
    const first = w.next();
    await until(() => expect(errors.length).toBeGreaterThanOrEqual(3));
    expect(errors.every((e) => e instanceof UpstreamError)).toBe(true);
    fake.setDown(false);
    expect((await first)?.value).toBe('v1');

    // Connections dropped mid-watch count as failures too; the watch resumes afterwards.
    const next = w.next();
    await until(() => expect(fake.heldRequests).toBe(1));
    const before = errors.length;
    fake.setDown(true, 'reset');
    await until(() => expect(errors.length).toBeGreaterThan(before));
    expect(String(errors.at(-1))).toMatch(/Consul watch journal_version\/qa failed/);
    fake.setDown(false);
    fake.set('journal_version/qa', 'v2');
    expect((await next)?.value).toBe('v2');
  });

  it('aborting a watch ends the held request', async () => {
    const kv = await setup();
    fake.set('k', 'v');
    const c = controller();
    const pending = kv.watch('k', fake.currentIndex, { waitMs: LONG_WAIT, signal: c.signal });
    await until(() => expect(fake.heldRequests).toBe(1));
    c.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => expect(fake.heldRequests).toBe(0));
  });
});
