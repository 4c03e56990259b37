import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/local-object-store.js';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3.js';
import { InputError, NotFoundError, UpstreamError } from '../../src/core/errors.js';
import { FaultProxy } from '../support/fault-proxy.js';

interface S3rverLike {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverLike;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

describe('S3ObjectStore against s3rver', () => {
  let dir: string;
  let server: S3rverLike;
  let port: number;
  let proxy: FaultProxy;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 's3-store-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'journals' }],
    });
    port = (await server.run()).port;
    proxy = await FaultProxy.start({ host: '127.0.0.1', port });
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const storeAt = (endpoint: string, maxAttempts = 1) =>
    new S3ObjectStore(
      createS3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts }),
      { bucket: 'journals' },
    );

  it('puts, heads, gets and lists objects with their metadata', async () => {
    const store = storeAt(`http://127.0.0.1:${port}`);
    await store.put('a/dev/1.txt', Readable.from(['hello ', 'world']), {
      metadata: { sha256: 'abc', cluster: 'dev' },
    });
    await store.put('a/dev/2.txt', Readable.from([Buffer.from('two')]), { metadata: {} });
    await store.put('b/other.txt', Readable.from([Buffer.from('x')]), { metadata: {} });

    const head = await store.head('a/dev/1.txt');
    expect(head).toMatchObject({ key: 'a/dev/1.txt', size: 11, metadata: { sha256: 'abc', cluster: 'dev' } });
    expect(await text(await store.get('a/dev/1.txt'))).toBe('hello world');
    expect(await store.head('a/dev/missing.txt')).toBeNull();
    await expect(store.get('a/dev/missing.txt')).rejects.toBeInstanceOf(NotFoundError);

    const listed = await store.list('a/');
    expect(listed.map((o) => [o.key, o.size])).toEqual([
      ['a/dev/1.txt', 11],
      ['a/dev/2.txt', 3],
    ]);
  });

  it('uploads a multipart object (several 8 MB parts) and keeps its metadata', async () => {
    const store = storeAt(`http://127.0.0.1:${port}`);
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const hash = createHash('sha256');
    const chunks = Array.from({ length: 20 }, () => chunk);
    for (const c of chunks) hash.update(c);
    await store.put('big/blob.bin', Readable.from(chunks), { metadata: { sha256: hash.digest('hex') } });
    const head = await store.head('big/blob.bin');
    expect(head?.size).toBe(20 * 1024 * 1024);
    expect(head?.metadata.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports a server that keeps failing as an UpstreamError naming s3', async () => {
    const store = storeAt(proxy.url);
    proxy.fail500(5);
    const err = await store.put('c/fail.txt', Readable.from(['x']), { metadata: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).system).toBe('s3');
    proxy.pass();
    expect(await store.head('c/fail.txt')).toBeNull();
  });

  it('survives three 500s through the proxy with SDK retries and stores one object', async () => {
    const store = storeAt(proxy.url, 4);
    proxy.fail500(3);
    const before = proxy.counters.failed500;
    await store.put('d/retried.txt', Readable.from(['payload']), { metadata: { sha256: 'feed' } });
    expect(proxy.counters.failed500 - before).toBe(3);
    const listed = await store.list('d/');
    expect(listed).toHaveLength(1);
    expect(await text(await store.get('d/retried.txt'))).toBe('payload');
  });

  it('reports a dropped connection and a down server as UpstreamError', async () => {
    const store = storeAt(proxy.url);
    proxy.reset(1);
    await expect(store.head('a/dev/1.txt')).rejects.toBeInstanceOf(UpstreamError);
    proxy.down();
    await expect(store.list('a/')).rejects.toBeInstanceOf(UpstreamError);
    proxy.pass();
    expect((await store.head('a/dev/1.txt'))?.size).toBe(11);
  });
});

describe('LocalObjectStore (the embedded default) keeps the same contract', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'local-store-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('puts, heads, gets and lists objects with their metadata', async () => {
    const store = new LocalObjectStore(dir);
    await store.put('a/dev/1.txt', Readable.from(['hello ', 'world']), { metadata: { sha256: 'abc' } });
    await store.put('a/dev/2.txt', Readable.from(['two']), { metadata: {} });
    await store.put('ab.txt', Readable.from(['x']), { metadata: {} });
    await store.put('b/other.txt', Readable.from(['x']), { metadata: {} });
    expect(await store.head('a/dev/1.txt')).toEqual({
      key: 'a/dev/1.txt',
      size: 11,
      metadata: { sha256: 'abc' },
      lastModified: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(await text(await store.get('a/dev/1.txt'))).toBe('hello world');
    expect(await store.head('a/none')).toBeNull();
    await expect(store.get('a/none')).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/dev/1.txt', 'a/dev/2.txt']);
    expect((await store.list('a')).map((o) => o.key)).toEqual(['a/dev/1.txt', 'a/dev/2.txt', 'ab.txt']);
    expect((await store.list('a/dev/1')).map((o) => o.metadata)).toEqual([{ sha256: 'abc' }]);
  });

  it('refuses keys that could leave the folder or hide characters', async () => {
    const store = new LocalObjectStore(dir);
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a\\b', 'nul\u0000', 'line\nbreak', '']) {
      await expect(store.put(key, Readable.from(['x']), { metadata: {} })).rejects.toBeInstanceOf(InputError);
      await expect(store.head(key)).rejects.toBeInstanceOf(InputError);
    }
  });

  it('leaves no object behind when the body fails half-way', async () => {
    const store = new LocalObjectStore(dir);
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('source broke'));
      },
    });
    await expect(store.put('c/broken.txt', failing, { metadata: {} })).rejects.toThrow(/source broke/);
    expect(await store.head('c/broken.txt')).toBeNull();
  });
});
