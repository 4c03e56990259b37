/**
 * Journal upload: a journal (1 GiB; 64 MiB in --quick) through the real `conveyor
 * journal-watch` process to s3rver — from the moment the finished file appears in the watched
 * folder (renamed in, as an exporter finishing would) until the watcher reports it uploaded
 * and registered — and its peak resident memory (VmHWM). Baseline: a separate process doing a
 * bare `lib-storage` `Upload` of the same file to the same s3rver.
 *
 * Two journals of the same size, one after the other, through the same journal-watch: the first
 * with a sidecar that declares its size and sha256 (as an exporter that hashed what it wrote
 * does; the headline), the second with a sidecar without them (it waits to settle and is read
 * once for its sha256 before the upload). Their contents differ, so neither reuses the other's
 * object. The baseline uploads the first one's file. The full run repeats the declared case
 * three times beside the baseline, each round with a journal of its own on an empty bucket, the
 * second round in the other order, and reports the medians.
 */

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { figure, type Scenario } from '../lib/figure.js';
import { type Child, childEnv, MiB, procMemory, spawnChild, tsxArgs } from '../lib/proc.js';
import { median } from '../lib/stats.js';

interface S3rverLike {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverLike;

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BARE_UPLOAD = fileURLToPath(new URL('../lib/bare-upload.ts', import.meta.url));
const TOKEN = 'bench-journal-token';
const FILE = 'journal-bench.dat';
const PLAIN_FILE = 'journal-bench-plain.dat';

/**
 * A file of `bytes` (a random 8 MiB block repeated: nothing on the way compresses); returns its
 * sha256, computed while writing as an exporter that declares it would.
 */
function writeJournal(path: string, bytes: number): string {
  const block = randomBytes(8 * MiB);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; left -= block.length) {
      const piece = block.subarray(0, Math.min(left, block.length));
      hash.update(piece);
      writeSync(fd, piece);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

interface BotEvent {
  kind: string;
  file: string;
  reason?: string;
  at: number;
}

/** The bot's journal endpoints, as far as journal-watch uses them; `eventFor(file)` resolves on its first notice. */
function startFakeBot() {
  const waiting = new Map<string, (e: BotEvent) => void>();
  const seen = new Map<string, BotEvent>();
  const eventFor = (file: string) =>
    new Promise<BotEvent>((resolve) => {
      const got = seen.get(file);
      if (got) resolve(got);
      else waiting.set(file, resolve);
    });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(403, { error: 'forbidden' });
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, string>) : {};
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && path === '/api/journal/versions') return send(200, { versions: [] });
      if (req.method === 'POST' && path === '/api/journal/versions')
        return send(201, { version: body.version, created: true });
      if (req.method === 'POST' && path === '/api/journal/events') {
        if (body.kind !== 'waiting' && body.file && !seen.has(body.file)) {
          const event = { kind: body.kind!, file: body.file, reason: body.reason, at: performance.now() };
          seen.set(body.file, event);
          waiting.get(body.file)?.(event);
        }
        return send(200, { ok: true });
      }
      send(404, { error: 'not found' });
    });
  });
  return {
    server,
    eventFor,
    listen: () =>
      new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port))),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The first round's journal file. */
const roundFile = (i: number) => (i === 0 ? FILE : FILE.replace('.dat', `-${i}.dat`));

/** The bare Upload's process for round i's journal (started ahead: it waits to be told). */
const bareChild = (endpoint: string, i: number, from: string, ahead: boolean) =>
  spawnChild(
    process.execPath,
    tsxArgs(BARE_UPLOAD, from, endpoint, 'journals', `bare/journal-${i}.dat`, ...(ahead ? ['--when-told'] : [])),
    { cwd: REPO, env: childEnv(), ...(ahead ? { stdio: ['pipe', 'pipe', 'pipe'] as const } : {}) },
  );

/**
 * The scenario's servers, idle once started (the scenario's `prepare`, started while the bench
 * loads): s3rver and the fake bot, and journal-watch's configuration. The processes (the first
 * round's bare Upload, journal-watch) are started by the run, while it writes the journals: an
 * idle journal-watch still wakes now and then, so it must not wait through other scenarios.
 */
interface Fixture {
  tmp: string;
  endpoint: string;
  staging: string;
  inbox: string;
  configFile: string;
  bot: ReturnType<typeof startFakeBot>;
  stop(): Promise<void>;
}

async function startFixture(): Promise<Fixture> {
  const tmp = await mkdtemp(join(tmpdir(), 'conveyor-bench-journal-'));
  const s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: join(tmp, 's3'),
    configureBuckets: [{ name: 'journals' }],
  });
  const bot = startFakeBot();
  const stop = async () => {
    await bot.close();
    await s3.close();
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    const endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
    const botPort = await bot.listen();
    const staging = join(tmp, 'staging');
    const inbox = join(tmp, 'inbox');
    mkdirSync(staging, { recursive: true });
    mkdirSync(inbox, { recursive: true });
    const configFile = join(tmp, 'conveyor.yaml');
    writeFileSync(
      configFile,
      stringify({
        environments: [{ name: 'development', branch: 'develop' }],
        journal: {
          objects: { bucket: 'journals', endpoint, forcePathStyle: true, region: 'us-east-1' },
          clusters: [{ name: 'dev-modelling', writable: true, mandators: ['tech-head'] }],
          botUrl: `http://127.0.0.1:${botPort}`,
        },
      }),
    );
    return { tmp, endpoint, staging, inbox, configFile, bot, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export const journalUpload: Scenario = {
  name: 'journal-upload',
  title: 'journal through journal-watch to s3rver',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  prepare: () => startFixture(),
  setUpBesideTearDown: true,
  async run(ctx, prepared) {
    const size = ctx.quick ? 64 * MiB : 1024 * MiB;
    const fixture = (await (prepared ?? startFixture())) as Fixture;
    const { tmp, endpoint, staging, inbox, configFile, bot } = fixture;
    let ahead: Child | undefined;
    let watcher: Child | undefined;
    try {
      // The full run alternates the bare Upload and journal-watch three times, each round with a
      // journal of its own, and takes the medians: one upload of a disk-bound gigabyte on a
      // shared machine swung from 14 to 20 s between runs.
      const rounds = ctx.quick ? 1 : 3;
      // Set-up, side by side: the first round's baseline process and journal-watch load while
      // the journals are written (s3rver and the bot were started while the bench loaded).
      ctx.log(
        `the first bare-Upload process and journal-watch start while ${rounds + 1} journals of ${size / MiB} MiB are written`,
      );
      ahead = bareChild(endpoint, 0, join(staging, roundFile(0)), true);
      watcher = spawnChild(
        process.execPath,
        [
          join(REPO, 'bin', 'conveyor.js'),
          'journal-watch',
          '--cluster',
          'dev-modelling',
          '--dir',
          'inbox',
          '--config',
          configFile,
        ],
        {
          cwd: tmp,
          env: childEnv({
            JOURNAL_TOKEN: TOKEN,
            AWS_ACCESS_KEY_ID: 'S3RVER',
            AWS_SECRET_ACCESS_KEY: 'S3RVER',
            AWS_REGION: 'us-east-1',
          }),
        },
      );
      const started = Promise.all([
        ahead.waitForLine(/^ready$/, 120_000),
        watcher.waitForLine(/^journal-watch: watching/, 60_000),
      ]);
      started.catch(() => {}); // awaited below
      const sums = Array.from({ length: rounds }, (_, i) => writeJournal(join(staging, roundFile(i)), size));
      writeJournal(join(staging, PLAIN_FILE), size);
      await started;
      await ctx.quiet(); // the earlier scenarios' tear-downs are done before the first upload
      const first = ahead;

      /** The bare Upload of round i's journal: from staging, or where journal-watch moved it once it went first. */
      const bareUpload = async (i: number, from = join(staging, roundFile(i))) => {
        let bare: Child;
        if (i === 0) {
          bare = first;
          bare.proc.stdin?.end('go\n');
        } else bare = bareChild(endpoint, i, from, false);
        const line = await bare.waitForLine(/^\{.*"ms".*\}$/, ctx.quick ? 40_000 : 240_000);
        await bare.exited;
        return JSON.parse(line[0]) as { ms: number; peakBytes: number };
      };
      ctx.log('baseline: bare lib-storage Upload');
      const bares = [await bareUpload(0)];

      ctx.log('conveyor journal-watch');
      /** From the journal's arrival (renamed in beside its sidecar) to its "uploaded" notice. */
      const exportOne = async (file: string, sidecar: Record<string, unknown>): Promise<number> => {
        writeFileSync(
          join(inbox, `${file}.meta.json`),
          JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'], ...sidecar }),
        );
        const t0 = performance.now();
        renameSync(join(staging, file), join(inbox, file));
        const event = await bot.eventFor(file);
        if (event.kind !== 'uploaded') throw new Error(`journal-watch reported ${event.kind}: ${event.reason ?? ''}`);
        return event.at - t0;
      };
      const ours = [await exportOne(FILE, { size, sha256: sums[0] })];
      // Later rounds find s3rver's disk fuller and slower: each round starts with an empty
      // bucket, and the second round goes the other way round (journal-watch first), so that
      // neither side is always the one that uploads second.
      const bucket = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      const emptyBucket = async () => {
        const listed = await bucket.send(new ListObjectsV2Command({ Bucket: 'journals' }));
        for (const o of listed.Contents ?? [])
          await bucket.send(new DeleteObjectCommand({ Bucket: 'journals', Key: o.Key }));
      };
      for (let i = 1; i < rounds; i++) {
        await emptyBucket();
        const watchFirst = i % 2 === 1;
        ctx.log(
          `round ${i + 1} of ${rounds}: ${watchFirst ? 'journal-watch, then bare Upload' : 'bare Upload, then journal-watch'}`,
        );
        if (!watchFirst) bares.push(await bareUpload(i));
        ours.push(await exportOne(roundFile(i), { size, sha256: sums[i] }));
        if (watchFirst) bares.push(await bareUpload(i, join(inbox, 'uploaded', roundFile(i))));
      }
      bucket.destroy();
      const ms = median(ours);
      const baseline = { ms: median(bares.map((b) => b.ms)), peakBytes: Math.max(...bares.map((b) => b.peakBytes)) };
      const roundsNote =
        rounds > 1
          ? `; medians of ${rounds} rounds (bare first, journal-watch first, bare first; each on an empty bucket): journal-watch ${ours.map((x) => Math.round(x)).join(', ')} ms, bare ${bares.map((b) => Math.round(b.ms)).join(', ')} ms`
          : '';
      ctx.log('the same through journal-watch, sidecar without size and sha256');
      const plainMs = await exportOne(PLAIN_FILE, {});
      const memory = procMemory(watcher.pid);
      const mbps = (bytes: number, t: number) => bytes / MiB / (t / 1000);
      const sizeNote = `${size / MiB} MiB${ctx.quick ? ' (quick size; full run: 1 GiB)' : ''}`;
      return [
        figure({
          scenario: 'journal-upload',
          figure: 'upload throughput',
          unit: 'MiB/s',
          value: mbps(size, ms),
          baseline: mbps(size, baseline.ms),
          check: { kind: 'ratio-min', min: 0.9 },
          notes:
            `${sizeNote}, sidecar declaring size and sha256: ${Math.round(ms)} ms from the file's arrival to "uploaded" (bare Upload ${Math.round(baseline.ms)} ms)${roundsNote}; ` +
            'journal-watch takes it at once (it has its declared size), reads it once while uploading (8 MiB parts, 4 at a time), checks its sha256 before completing the upload, then registers it',
        }),
        figure({
          scenario: 'journal-upload',
          figure: 'upload throughput, undeclared',
          unit: 'MiB/s',
          value: mbps(size, plainMs),
          baseline: mbps(size, baseline.ms),
          check: { kind: 'report' },
          notes:
            `${sizeNote}, another file, sidecar without size and sha256: ${Math.round(plainMs)} ms to "uploaded"; ` +
            'journal-watch waits until the file has not changed for 2 s, reads it once for its sha256, then uploads it as above (baseline: the bare Upload of the first file)',
        }),
        figure({
          scenario: 'journal-upload',
          figure: 'journal-watch peak RSS',
          unit: 'MiB',
          value: memory ? memory.peak / MiB : null,
          baseline: baseline.peakBytes / MiB,
          check: { kind: 'max', max: 256 },
          notes: `${sizeNote}; VmHWM of the journal-watch process over all its uploads (node running the compiled dist/), baseline: the highest VmHWM of the bare-Upload processes`,
        }),
      ];
    } finally {
      const processes = [ahead, watcher];
      ctx.afterward(async () => {
        for (const p of processes) await p?.stop(); // (the bare Upload is gone once it has uploaded)
        await fixture.stop();
      });
    }
  },
};
