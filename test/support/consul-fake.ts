/**
 * A faithful-enough fake of Consul's KV HTTP API (https://developer.hashicorp.com/consul/api-docs/kv)
 * on a loopback port: GET/PUT/DELETE /v1/kv/<key>, `?cas=`, `?recurse`, `?keys`, `?raw`,
 * blocking queries (`?index=&wait=`), the `X-Consul-Index` header, base64 `Value`s, ACL tokens.
 *
 * Like Consul: a single-key GET reports the key's ModifyIndex (the KV table index when the key
 * is missing, at least 1); a blocking query returns once that index passes `index` or when
 * `wait` (default 5 min, at most 10 min) elapses; a snapshot restore ends every held query and
 * makes the index go backwards.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface FakeEntry {
  value: Buffer;
  createIndex: number;
  modifyIndex: number;
  flags: number;
}

export interface FakeSnapshot {
  index: number;
  entries: Map<string, FakeEntry>;
}

export interface ConsulFakeOptions {
  /**
   * ACL: when given, every request needs one of these tokens (X-Consul-Token or ?token=).
   * `writePrefixes` limits where that token may write (absent: everywhere).
   */
  tokens?: Record<string, { writePrefixes?: string[] }>;
}

interface HeldQuery {
  key: string;
  index: number;
  wake: () => void;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parse a Go duration ("10s", "5m", "1m30s", "250ms") into milliseconds; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) * 1000; // Consul reads a bare number as seconds
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  // both groups always take part in a match, and the unit group only matches keys of DURATION_UNITS
  return parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
}

export class ConsulFake {
  /** Blocking queries received (GETs with an `index` > 0). */
  blockingRequests = 0;
  /** Every request seen, without tokens. */
  readonly requests: { method: string; key: string; query: Record<string, string> }[] = [];
  private readonly server: Server;
  private readonly entries = new Map<string, FakeEntry>();
  private index = 1;
  private held = new Set<HeldQuery>();
  private down: false | '500' | 'reset' = false;

  private constructor(private readonly options: ConsulFakeOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
  }

  static async start(options: ConsulFakeOptions = {}): Promise<ConsulFake> {
    const fake = new ConsulFake(options);
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Queries currently held open. */
  get heldRequests(): number {
    return this.held.size;
  }

  /** The current global (Raft) index. */
  get currentIndex(): number {
    return this.index;
  }

  /** Write a key directly, as another Consul client would. Returns the new ModifyIndex. */
  set(key: string, value: string): number {
    return this.write(key, Buffer.from(value));
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.bump();
  }

  value(key: string): string | undefined {
    return this.entries.get(key)?.value.toString('utf8');
  }

  modifyIndex(key: string): number | undefined {
    return this.entries.get(key)?.modifyIndex;
  }

  snapshot(): FakeSnapshot {
    return { index: this.index, entries: new Map([...this.entries].map(([k, e]) => [k, { ...e }])) };
  }

  /**
   * Restore a snapshot (or, without one, the current data renumbered from 1), as `consul snapshot
   * restore` does: the index goes backwards and every held blocking query returns at once.
   */
  restoreSnapshot(snapshot?: FakeSnapshot): void {
    this.entries.clear();
    if (snapshot) {
      for (const [k, e] of snapshot.entries) this.entries.set(k, { ...e });
      this.index = snapshot.index;
    } else {
      // Renumber what is there: indexes restart low, the data survive.
      const current = this.snapshot();
      let n = 1;
      for (const [k, e] of current.entries) {
        n += 1;
        this.entries.set(k, { ...e, createIndex: n, modifyIndex: n });
      }
      this.index = n;
    }
    const held = [...this.held];
    this.held.clear();
    for (const q of held) q.wake();
  }

  /** Take Consul down: '500' answers every request with 500, 'reset' drops the connections. */
  setDown(down: boolean, mode: '500' | 'reset' = '500'): void {
    this.down = down ? mode : false;
    if (down) {
      for (const q of [...this.held]) q.wake();
    }
  }

  async close(): Promise<void> {
    for (const q of [...this.held]) q.wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------ internals

  private bump(): number {
    this.index += 1;
    for (const q of [...this.held]) {
      if (this.reportedIndex(q.key) > q.index) q.wake();
    }
    return this.index;
  }

  private write(key: string, value: Buffer, flags = 0): number {
    const existing = this.entries.get(key);
    const next = this.index + 1;
    this.entries.set(key, { value, flags, createIndex: existing?.createIndex ?? next, modifyIndex: next });
    return this.bump();
  }

  private reportedIndex(key: string): number {
    return this.entries.get(key)?.modifyIndex ?? Math.max(this.index, 1);
  }

  private allowed(req: IncomingMessage, url: URL, key: string, write: boolean): boolean {
    if (!this.options.tokens) return true;
    const token = (req.headers['x-consul-token'] as string | undefined) ?? url.searchParams.get('token') ?? '';
    const rule = Object.hasOwn(this.options.tokens, token) ? this.options.tokens[token] : undefined;
    if (!rule) return false;
    if (write && rule.writePrefixes) return rule.writePrefixes.some((p) => key.startsWith(p));
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    if (this.down === 'reset') {
      req.socket.destroy();
      return;
    }
    if (this.down === '500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('No cluster leader');
      return;
    }
    if (!url.pathname.startsWith('/v1/kv/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
    const query = Object.fromEntries([...url.searchParams].filter(([k]) => k !== 'token'));
    this.requests.push({ method, key, query });
    const body = await readBody(req);
    if (!this.allowed(req, url, key, method !== 'GET')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Permission denied');
      return;
    }
    if (method === 'GET') return this.get(key, url, req, res);
    if (method === 'PUT') return this.put(key, url, body, res);
    if (method === 'DELETE') return this.del(key, url, res);
    res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed');
  }

  private async get(key: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const p = url.searchParams;
    const minIndex = Number(p.get('index') ?? '0');
    if (!Number.isSafeInteger(minIndex) || minIndex < 0) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Invalid index');
      return;
    }
    const waitText = p.get('wait');
    const waitMs = waitText === null ? 300_000 : parseGoDuration(waitText);
    if (waitMs === undefined) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`Invalid wait time: ${waitText}`);
      return;
    }
    const listing = p.has('recurse') || p.has('keys');
    if (minIndex > 0) {
      this.blockingRequests += 1;
      const current = listing ? this.index : this.reportedIndex(key);
      if (current <= minIndex) await this.hold(listing ? '' : key, minIndex, Math.min(waitMs, 600_000), req);
      if (req.socket.destroyed || this.down === 'reset') {
        req.socket.destroy();
        return;
      }
      if (this.down === '500') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('No cluster leader');
        return;
      }
    }
    if (listing) {
      const matches = [...this.entries].filter(([k]) => k.startsWith(key)).sort(([a], [b]) => a.localeCompare(b));
      const headers = { 'content-type': 'application/json', 'x-consul-index': String(this.index) };
      if (matches.length === 0) {
        res.writeHead(404, headers).end();
        return;
      }
      const body = p.has('keys') ? matches.map(([k]) => k) : matches.map(([k, e]) => toJson(k, e));
      res.writeHead(200, headers).end(JSON.stringify(body));
      return;
    }
    const entry = this.entries.get(key);
    const headers = { 'x-consul-index': String(this.reportedIndex(key)), 'x-consul-knownleader': 'true' };
    if (!entry) {
      res.writeHead(404, headers).end();
      return;
    }
    if (p.has('raw')) {
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' }).end(entry.value);
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify([toJson(key, entry)]));
  }

  private hold(key: string, index: number, waitMs: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const query: HeldQuery = {
        key,
        index,
        wake: () => {
          clearTimeout(timer);
          req.socket.off('close', query.wake);
          this.held.delete(query);
          resolve();
        },
      };
      const timer = setTimeout(query.wake, waitMs);
      this.held.add(query);
      req.socket.once('close', query.wake);
    });
  }

  private put(key: string, url: URL, body: Buffer, res: ServerResponse): void {
    if (key === '' || key.startsWith('/')) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Missing key name');
      return;
    }
    const cas = url.searchParams.get('cas');
    const flags = Number(url.searchParams.get('flags') ?? '0');
    const existing = this.entries.get(key);
    let ok = true;
    if (cas !== null) {
      const expected = Number(cas);
      ok = expected === 0 ? !existing : existing?.modifyIndex === expected;
    }
    if (ok) this.write(key, body, flags);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ok));
  }

  private del(key: string, url: URL, res: ServerResponse): void {
    const cas = url.searchParams.get('cas');
    let ok = true;
    if (url.searchParams.has('recurse')) {
      let removed = false;
      for (const k of [...this.entries.keys()]) if (k.startsWith(key)) removed = this.entries.delete(k) || removed;
      if (removed) this.bump();
    } else {
      const existing = this.entries.get(key);
      if (cas !== null) ok = existing !== undefined && existing.modifyIndex === Number(cas);
      if (ok && existing) {
        this.entries.delete(key);
        this.bump();
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ok));
  }
}

function toJson(key: string, e: FakeEntry) {
  return {
    LockIndex: 0,
    Key: key,
    Flags: e.flags,
    Value: e.value.length === 0 ? null : e.value.toString('base64'),
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
