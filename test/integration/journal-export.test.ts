import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3.js';
import { InputError, NotAllowedError, UpstreamError } from '../../src/core/errors.js';
import type { ChangeTickets, TicketVerdict } from '../../src/core/ports.js';
import {
  HttpVersionRegistry,
  type JournalEvent,
  type JournalExportOptions,
  JournalExportWatcher,
  type JournalVersionInput,
} from '../../src/journal/export-watcher.js';
import type { JournalClusterRule } from '../../src/journal/journal-rules.js';
import { FaultProxy } from '../support/fault-proxy.js';

interface S3rverLike {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverLike;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const TOKEN = 'tok-dev-modelling';

const clusters: JournalClusterRule[] = [
  { name: 'dev-modelling', writable: true, mandators: ['tech-head'] },
  { name: 'prod-modelling', writable: true, mandators: [] },
  { name: 'qa-execution', writable: false },
];

/** The bot's version endpoint: keeps versions by checksum, like the real one. */
class FakeRegistry {
  readonly bySha = new Map<string, JournalVersionInput>();
  posts = 0;
  private server = http.createServer((req, res) => this.handle(req, res));
  baseUrl = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
  versionsOf(sha: string): string[] {
    return [...this.bySha.values()].filter((v) => v.sha256 === sha).map((v) => v.version);
  }
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      send(403, { error: 'forbidden' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET') {
      const day = url.searchParams.get('day') ?? '';
      const versions = [...this.bySha.values()]
        .filter((v) => v.version.startsWith(day))
        .map((v) => ({ version: v.version }));
      send(200, { versions });
      return;
    }
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      this.posts++;
      const v = JSON.parse(text) as JournalVersionInput;
      const known = this.bySha.get(v.sha256);
      if (known) send(200, { version: known.version, created: false });
      else if ([...this.bySha.values()].some((x) => x.version === v.version)) send(409, { error: 'taken' });
      else {
        this.bySha.set(v.sha256, v);
        send(201, { version: v.version, created: true });
      }
    });
  }
}

class Tickets implements ChangeTickets {
  verdicts = new Map<string, TicketVerdict>();
  checks = 0;
  async check(number: string) {
    this.checks++;
    const verdict = this.verdicts.get(number) ?? 'missing';
    return { number, verdict, detail: `state=${verdict}` };
  }
}

class Events {
  readonly all: JournalEvent[] = [];
  private waiters: { pred: (e: JournalEvent) => boolean; resolve: (e: JournalEvent) => void }[] = [];
  push = async (e: JournalEvent) => {
    this.all.push(e);
    for (const w of this.waiters.filter((x) => x.pred(e))) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(e);
    }
  };
  waitFor(kind: JournalEvent['kind'], file: string): Promise<JournalEvent> {
    const pred = (e: JournalEvent) => e.kind === kind && e.file === file;
    const seen = this.all.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
  count(kind: JournalEvent['kind'], file: string): number {
    return this.all.filter((e) => e.kind === kind && e.file === file).length;
  }
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

const meta = (mandators: string[], ticket = 'CHG0001234') => JSON.stringify({ ticket, mandators });
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('journal export watcher', () => {
  let root: string;
  let server: S3rverLike;
  let s3Port: number;
  let proxy: FaultProxy;
  let registry: FakeRegistry;
  let registries: FakeRegistry[] = [];
  let watchers: JournalExportWatcher[] = [];
  let n = 0;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'journal-export-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: path.join(root, 's3'),
      configureBuckets: [{ name: 'journals' }],
    });
    s3Port = (await server.run()).port;
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: s3Port });
  });

  afterEach(async () => {
    for (const w of watchers) await w.stop();
    watchers = [];
    for (const r of registries) await r.close();
    registries = [];
    proxy.pass();
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  const objectsVia = (endpoint: string) =>
    new S3ObjectStore(
      createS3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 }),
      { bucket: 'journals' },
    );

  async function setup(overrides: Partial<JournalExportOptions> = {}, viaProxy = true) {
    n++;
    registry = new FakeRegistry();
    await registry.start();
    registries.push(registry);
    const dir = path.join(root, `export-${n}`);
    await mkdir(dir, { recursive: true });
    const events = new Events();
    const objects = objectsVia(viaProxy ? proxy.url : `http://127.0.0.1:${s3Port}`);
    const prefix = `journals-${n}`;
    const make = (more: Partial<JournalExportOptions> = {}) => {
      const w = new JournalExportWatcher({
        cluster: 'dev-modelling',
        dir,
        clusters,
        objects,
        prefix,
        registry: new HttpVersionRegistry({ baseUrl: registry.baseUrl, token: TOKEN }),
        notify: events.push,
        retry: { retries: 3, minTimeout: 5, maxTimeout: 20 },
        retryLaterMs: 50,
        awaitWriteFinishMs: 150,
        ...overrides,
        ...more,
      });
      watchers.push(w);
      return w;
    };
    return { dir, events, objects, prefix, make };
  }

  async function drop(dir: string, name: string, content: string | Buffer, mandators = ['tech-head']) {
    await writeFile(path.join(dir, `${name}.meta.json`), meta(mandators));
    await writeFile(path.join(dir, name), content);
  }

  it('uploads a 200 MB file written in chunks once, registers it once and moves it', async () => {
    const { dir, events, objects, prefix, make } = await setup({}, false);
    // a writer may pause between chunks on a busy machine: only a longer quiet period means "finished"
    await make({ awaitWriteFinishMs: 1000 }).start();
    await writeFile(path.join(dir, 'big.jnl.meta.json'), meta(['tech-head']));
    const hash = createHash('sha256');
    const out = createWriteStream(path.join(dir, 'big.jnl'));
    const chunk = randomBytes(1024 * 1024);
    for (let i = 0; i < 200; i++) {
      const piece = Buffer.from(chunk);
      piece[0] = i;
      hash.update(piece);
      if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(r));
    const digest = hash.digest('hex');

    const done = await events.waitFor('uploaded', 'big.jnl');
    expect(done.version).toMatch(/^\d{4}\.\d{2}\.\d{2}-dev-modelling\.1$/);
    const listed = await objects.list(`${prefix}/`);
    expect(listed.map((o) => o.key)).toEqual([`${prefix}/dev-modelling/${done.version}/big.jnl`]);
    const head = await objects.head(listed[0]!.key); // exactly one, as just asserted
    expect(head).toMatchObject({
      size: 200 * 1024 * 1024,
      metadata: { sha256: digest, cluster: 'dev-modelling' },
    });
    expect(head?.metadata).toMatchObject({
      version: done.version,
      ticket: 'CHG0001234',
      mandators: 'tech-head',
    });
    expect(registry.versionsOf(digest)).toEqual([done.version]);
    expect(existsSync(path.join(dir, 'big.jnl'))).toBe(false);
    expect(existsSync(path.join(dir, 'uploaded', 'big.jnl'))).toBe(true);
    expect(existsSync(path.join(dir, 'uploaded', 'big.jnl.meta.json'))).toBe(true);
    expect(events.all.filter((e) => e.kind !== 'uploaded')).toEqual([]);
  });

  it('retries through three S3 failures and ends with one object and one version', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    const before = proxy.counters.failed500;
    proxy.fail500(3);
    await make().start();
    await drop(dir, 'flaky.jnl', 'flaky content');
    const done = await events.waitFor('uploaded', 'flaky.jnl');
    expect(proxy.counters.failed500 - before).toBe(3);
    expect((await objects.list(`${prefix}/`)).length).toBe(1);
    expect(registry.versionsOf(sha('flaky content'))).toEqual([done.version]);
    expect(events.count('failed', 'flaky.jnl')).toBe(0);
  });

  it('keeps the file and reports once while S3 is down, then uploads when it returns', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    proxy.down();
    const w = make();
    await w.start();
    await drop(dir, 'down.jnl', 'content while down');
    const failed = await events.waitFor('failed', 'down.jnl');
    expect(failed.reason).toMatch(/failed/);
    expect(existsSync(path.join(dir, 'down.jnl'))).toBe(true);
    expect(registry.versionsOf(sha('content while down'))).toEqual([]);
    const refused = proxy.counters.refused;
    await until(() => proxy.counters.refused > refused + 3); // later rounds keep trying
    expect(events.count('failed', 'down.jnl')).toBe(1);

    proxy.pass();
    const done = await events.waitFor('uploaded', 'down.jnl');
    expect((await objects.list(`${prefix}/`)).length).toBe(1);
    expect(registry.versionsOf(sha('content while down'))).toEqual([done.version]);
  });

  it('rejects a business-head journal on the dev cluster with a reason file', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    await make().start();
    await drop(dir, 'biz.jnl', 'business', ['business-head']);
    const rejected = await events.waitFor('rejected', 'biz.jnl');
    expect(rejected.reason).toMatch(/business-head/);
    expect(existsSync(path.join(dir, 'biz.jnl'))).toBe(false);
    expect(await readFile(path.join(dir, 'rejected', 'biz.jnl.reason.txt'), 'utf8')).toMatch(
      /may not export mandator business-head/,
    );
    expect(existsSync(path.join(dir, 'rejected', 'biz.jnl'))).toBe(true);
    expect(await objects.list(`${prefix}/`)).toEqual([]);
  });

  it('rejects a journal whose metadata cannot be read', async () => {
    const { dir, events, make } = await setup();
    await make().start();
    await writeFile(path.join(dir, 'bad.jnl.meta.json'), '{ not json');
    await writeFile(path.join(dir, 'bad.jnl'), 'x');
    const rejected = await events.waitFor('rejected', 'bad.jnl');
    expect(rejected.reason).toMatch(/not valid JSON/);
    expect(existsSync(path.join(dir, 'rejected', 'bad.jnl.reason.txt'))).toBe(true);
  });

  it('refuses to start on a read-only cluster', async () => {
    const { make } = await setup();
    const err = await make({ cluster: 'qa-execution' })
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotAllowedError);
    expect((err as Error).message).toMatch(/read-only.*dev-modelling, prod-modelling may upload/);
  });

  it('waits on a pending change, says so once, and proceeds once it is approved', async () => {
    const tickets = new Tickets();
    tickets.verdicts.set('CHG0001234', 'pending');
    const { dir, events, make } = await setup({ tickets, ticketBackoff: { minTimeout: 10, maxTimeout: 30 } });
    await make().start();
    await drop(dir, 'wait.jnl', 'waiting content');
    const waiting = await events.waitFor('waiting', 'wait.jnl');
    expect(waiting.reason).toMatch(/CHG0001234/);
    await until(() => tickets.checks >= 4);
    expect(existsSync(path.join(dir, 'wait.jnl'))).toBe(true);
    tickets.verdicts.set('CHG0001234', 'approved');
    await events.waitFor('uploaded', 'wait.jnl');
    expect(events.count('waiting', 'wait.jnl')).toBe(1);
  });

  it('rejects a journal whose change was rejected', async () => {
    const tickets = new Tickets();
    tickets.verdicts.set('CHG0001234', 'rejected');
    const { dir, events, make } = await setup({ tickets });
    await make().start();
    await drop(dir, 'nochange.jnl', 'x');
    expect((await events.waitFor('rejected', 'nochange.jnl')).reason).toMatch(/CHG0001234 is rejected/);
  });

  for (const step of ['uploaded', 'registered'] as const) {
    it(`resumes after a crash right after the "${step}" step: one version, one object, file moved`, async () => {
      const { dir, events, objects, prefix, make } = await setup();
      const first = make({
        afterStep: (s) => {
          if (s === step) throw new Error('simulated crash');
        },
      });
      await first.start();
      await drop(dir, 'crash.jnl', `crash content ${step}`);
      await until(() => first.haltedBy !== null);
      await first.drain();
      expect(existsSync(path.join(dir, 'crash.jnl'))).toBe(true);
      const postsBefore = registry.posts;
      const putsBefore = proxy.counters.methods.PUT ?? 0;

      await make().start();
      const done = await events.waitFor('uploaded', 'crash.jnl');
      expect(registry.versionsOf(sha(`crash content ${step}`))).toEqual([done.version]);
      expect(registry.posts - postsBefore).toBe(step === 'uploaded' ? 1 : 0);
      expect((proxy.counters.methods.PUT ?? 0) - putsBefore).toBe(0);
      expect((await objects.list(`${prefix}/`)).length).toBe(1);
      expect(await readdir(path.join(dir, 'uploaded'))).toContain('crash.jnl');
    });
  }

  it('gives the next sequence to new content and the same version to the same content', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    await make().start();
    await drop(dir, 'one.jnl', 'first');
    const one = await events.waitFor('uploaded', 'one.jnl');
    await drop(dir, 'two.jnl', 'second');
    const two = await events.waitFor('uploaded', 'two.jnl');
    await drop(dir, 'again.jnl', 'first');
    const again = await events.waitFor('uploaded', 'again.jnl');
    expect(one.version?.endsWith('.1')).toBe(true);
    expect(two.version?.endsWith('.2')).toBe(true);
    expect(again.version).toBe(one.version);
    expect((await objects.list(`${prefix}/`)).length).toBe(2);
    expect(registry.versionsOf(sha('first'))).toEqual([one.version]);
  });

  // The sidecar may declare the journal's size and sha256 (issue 23): then the file is taken as
  // soon as it has that size, read once while it uploads, and checked before the upload completes.
  const declaring = (content: Buffer, more: Record<string, unknown> = {}) =>
    JSON.stringify({
      ticket: 'CHG0001234',
      mandators: ['tech-head'],
      size: content.length,
      sha256: sha(content),
      ...more,
    });

  it('a journal exported again while its upload waits for S3 is read again with its new sidecar: the new content goes up', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    proxy.down();
    await make().start();
    const first = Buffer.from('first export\n');
    await writeFile(path.join(dir, 'again.jnl'), first);
    await writeFile(path.join(dir, 'again.jnl.meta.json'), declaring(first));
    await events.waitFor('failed', 'again.jnl');
    // The exporter writes the journal again, with a sidecar declaring the new bytes.
    const second = Buffer.from('second export, longer than the first\n');
    await writeFile(path.join(dir, 'again.jnl.meta.json'), declaring(second));
    await writeFile(path.join(dir, 'again.jnl'), second);
    proxy.pass();
    const done = await events.waitFor('uploaded', 'again.jnl');
    expect(events.all.filter((e) => e.kind === 'rejected')).toEqual([]);
    expect(registry.versionsOf(sha(second))).toEqual([done.version]);
    expect(registry.versionsOf(sha(first))).toEqual([]);
    const listed = await objects.list(`${prefix}/`);
    expect(listed).toHaveLength(1);
    expect(await objects.head(listed[0]!.key)).toMatchObject({
      size: second.length,
      metadata: { sha256: sha(second) },
    });
  });

  it('takes a journal whose sidecar declares its size and sha256 at once, without waiting for it to settle', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    // a quiet period far longer than the test may run: only the declaration can start this upload
    await make({ awaitWriteFinishMs: 10 * 60_000 }).start();
    const content = randomBytes(20 * 1024 * 1024 + 123); // three 8 MiB parts
    const digest = sha(content);
    await writeFile(path.join(dir, 'declared.jnl'), content);
    await writeFile(path.join(dir, 'declared.jnl.meta.json'), declaring(content, { sha256: digest.toUpperCase() }));

    const done = await events.waitFor('uploaded', 'declared.jnl');
    expect(registry.versionsOf(digest)).toEqual([done.version]);
    const listed = await objects.list(`${prefix}/`);
    expect(listed.map((o) => o.key)).toEqual([`${prefix}/dev-modelling/${done.version}/declared.jnl`]);
    expect(await objects.head(listed[0]!.key)).toMatchObject({ size: content.length, metadata: { sha256: digest } });
    expect(existsSync(path.join(dir, 'uploaded', 'declared.jnl'))).toBe(true);
    expect(events.all.filter((e) => e.kind !== 'uploaded')).toEqual([]);
  });

  for (const [label, bytes] of [
    ['a single-part', 1000],
    ['a multipart', 20 * 1024 * 1024],
  ] as const) {
    it(`refuses ${label} journal whose bytes are not the declared sha256: never completed, never registered`, async () => {
      const { dir, events, objects, prefix, make } = await setup();
      await make({ awaitWriteFinishMs: 10 * 60_000 }).start();
      const content = randomBytes(bytes);
      const other = Buffer.from(content);
      other[other.length - 1]! ^= 0xff; // one byte differs, at the very end
      const before = { ...proxy.counters.methods };
      await writeFile(path.join(dir, 'corrupt.jnl.meta.json'), declaring(content));
      await writeFile(path.join(dir, 'corrupt.jnl'), other);

      const rejected = await events.waitFor('rejected', 'corrupt.jnl');
      expect(rejected.reason).toBe(
        `corrupt.jnl does not match its sidecar: sha256 ${sha(other)} where ${sha(content)} was expected; the upload was aborted and nothing registered`,
      );
      expect(registry.posts).toBe(0);
      expect(registry.versionsOf(sha(other))).toEqual([]);
      expect(await objects.list(`${prefix}/`)).toEqual([]);
      const delta = (m: string) => (proxy.counters.methods[m] ?? 0) - (before[m] ?? 0);
      if (bytes > 8 * 1024 * 1024) {
        expect(delta('POST')).toBe(1); // CreateMultipartUpload, and no CompleteMultipartUpload
        expect(delta('DELETE')).toBeGreaterThanOrEqual(1); // AbortMultipartUpload was asked
      } else {
        expect(delta('PUT')).toBe(0); // a single part is checked before it is sent
      }
      expect(existsSync(path.join(dir, 'corrupt.jnl'))).toBe(false);
      expect(await readFile(path.join(dir, 'rejected', 'corrupt.jnl.reason.txt'), 'utf8')).toMatch(
        /does not match its sidecar/,
      );
      expect(events.all.map((e) => e.kind)).toEqual(['rejected']);
    });
  }

  it('resumes a declared journal after a crash right after the upload: no second upload, one version', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    const first = make({
      afterStep: (s) => {
        if (s === 'uploaded') throw new Error('simulated crash');
      },
    });
    await first.start();
    const content = randomBytes(9 * 1024 * 1024); // two parts
    await writeFile(path.join(dir, 'resume.jnl.meta.json'), declaring(content));
    await writeFile(path.join(dir, 'resume.jnl'), content);
    await until(() => first.haltedBy !== null);
    await first.drain();
    const putsBefore = proxy.counters.methods.PUT ?? 0;

    await make().start();
    const done = await events.waitFor('uploaded', 'resume.jnl');
    expect((proxy.counters.methods.PUT ?? 0) - putsBefore).toBe(0);
    expect(registry.versionsOf(sha(content))).toEqual([done.version]);
    expect((await objects.list(`${prefix}/`)).map((o) => o.size)).toEqual([content.length]);
  });

  it('refuses a journal longer than its sidecar declares, and one that stays shorter', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    await make({ awaitWriteFinishMs: 100, metaGraceMs: 300 }).start();
    const content = Buffer.from('rate,1.25\n'.repeat(100));
    await writeFile(path.join(dir, 'long.jnl.meta.json'), declaring(content));
    await writeFile(path.join(dir, 'long.jnl'), Buffer.concat([content, Buffer.from('x')]));
    await writeFile(path.join(dir, 'short.jnl.meta.json'), declaring(content));
    await writeFile(path.join(dir, 'short.jnl'), content.subarray(1));
    expect((await events.waitFor('rejected', 'long.jnl')).reason).toBe(
      `long.jnl has ${content.length + 1} bytes; its sidecar declares ${content.length}`,
    );
    expect((await events.waitFor('rejected', 'short.jnl')).reason).toBe(
      `short.jnl has ${content.length - 1} bytes; its sidecar declares ${content.length}`,
    );
    expect(registry.posts).toBe(0);
    expect(await objects.list(`${prefix}/`)).toEqual([]);
  });

  it('waits for a short declared journal to be written to its size, then uploads it', async () => {
    const { dir, events, make } = await setup();
    await make({ awaitWriteFinishMs: 100 }).start();
    const content = randomBytes(64 * 1024);
    await writeFile(path.join(dir, 'growing.jnl.meta.json'), declaring(content));
    await writeFile(path.join(dir, 'growing.jnl'), content.subarray(0, 1000));
    // settled but short: it waits (bounded: 40 checks)
    for (let i = 0; i < 40 && !(await readdir(path.join(dir, '.conveyor-outbox'))).includes('growing.jnl.json'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(events.all).toEqual([]);
    expect(registry.posts).toBe(0);
    await writeFile(path.join(dir, 'growing.jnl'), content);
    const done = await events.waitFor('uploaded', 'growing.jnl');
    expect(registry.versionsOf(sha(content))).toEqual([done.version]);
  });

  it('without a declared size and sha256, a journal still waits until it has settled', async () => {
    const { dir, events, objects, prefix, make } = await setup();
    await make({ awaitWriteFinishMs: 1500 }).start();
    await writeFile(path.join(dir, 'plain.jnl.meta.json'), meta(['tech-head']));
    const pieces: Buffer[] = [];
    // an exporter appending every 100 ms for 3 s: never quiet for 1.5 s, so nothing is taken yet
    for (let i = 0; i < 30; i++) {
      const piece = randomBytes(4096);
      pieces.push(piece);
      await writeFile(path.join(dir, 'plain.jnl'), piece, { flag: 'a' });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(events.all).toEqual([]);
    expect(registry.posts).toBe(0);
    expect(await objects.list(`${prefix}/`)).toEqual([]);
    const done = await events.waitFor('uploaded', 'plain.jnl');
    const whole = Buffer.concat(pieces);
    expect(registry.versionsOf(sha(whole))).toEqual([done.version]);
    expect(await objects.head(`${prefix}/dev-modelling/${done.version}/plain.jnl`)).toMatchObject({
      size: whole.length,
    });
  });
});

describe('HttpVersionRegistry', () => {
  it('maps the endpoint answers to the error family and never sends the token elsewhere', async () => {
    let status = 401;
    let seenAuth = '';
    const server = http.createServer((req, res) => {
      seenAuth = req.headers.authorization ?? '';
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        status === 200 ? JSON.stringify({ versions: ['2026.11.23-dev.1', { version: '2026.11.23-dev.2' }] }) : '{}',
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const client = new HttpVersionRegistry({ baseUrl, token: 'secret-token' });
    const input: JournalVersionInput = {
      version: '2026.11.23-dev.1',
      cluster: 'dev',
      file: 'a.jnl',
      size: 1,
      sha256: 'a'.repeat(64),
      mandators: ['tech-head'],
      objectKey: 'j/dev/2026.11.23-dev.1/a.jnl',
      uploadedAt: new Date().toISOString(),
    };
    try {
      const refused = await client.register(input).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NotAllowedError);
      expect(String((refused as Error).message)).not.toContain('secret-token');
      expect(seenAuth).toBe('Bearer secret-token');
      status = 503;
      await expect(client.register(input)).rejects.toBeInstanceOf(UpstreamError);
      status = 422;
      await expect(client.register(input)).rejects.toBeInstanceOf(InputError);
      status = 200;
      expect(await client.latestForDay('dev', '2026.11.23')).toEqual(['2026.11.23-dev.1', '2026.11.23-dev.2']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
