/**
 * KvStore over Consul's KV API with the `consul` package (v2). The client is built by the
 * composition root: `new Consul({ host, port, secure, defaults: { token } })`.
 *
 * Traps handled here (see STACK.md): a lost CAS resolves `undefined`; `index`/`wait`/`ctx` are
 * not in the option types; `X-Consul-Index` is only readable with `ctx.includeResponse`, which
 * makes `get` resolve `[res, data]`; blocking waits are capped at 10 minutes; the index can go
 * backwards (snapshot restore), in which case it is reset to 0.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type Consul from 'consul';
import { InputError, UpstreamError } from '../core/errors.js';
import type { KvEntry, KvStore } from '../core/ports.js';

/** Consul refuses longer blocking waits. */
export const MAX_WAIT_MS = 600_000;

export interface ConsulKvOptions {
  /** Timeout for plain (non-blocking) requests. Default 10 s. */
  requestTimeoutMs?: number;
}

interface RawItem {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

type WithResponse<T> = [IncomingMessage, T?];

interface Ctx extends EventEmitter {
  includeResponse: true;
}

/** The package's types lack `index`, `wait`, `ctx`, `timeout` and the `[res, data]` result. */
interface LooseKv {
  get(options: Record<string, unknown>): Promise<unknown>;
  set(options: Record<string, unknown>): Promise<unknown>;
}

export class ConsulKv implements KvStore {
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly consul: Consul,
    options: ConsulKvOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  private get kv(): LooseKv {
    return this.consul.kv as unknown as LooseKv;
  }

  async get(key: string): Promise<KvEntry | null> {
    const [, item] = await this.read(key, { timeout: this.requestTimeoutMs }, 'read');
    return toEntry(key, item);
  }

  async put(key: string, value: string, options: { cas?: number } = {}): Promise<boolean> {
    const opts: Record<string, unknown> = { key, value, timeout: this.requestTimeoutMs };
    if (options.cas !== undefined) {
      if (!Number.isSafeInteger(options.cas) || options.cas < 0) {
        throw new InputError(`invalid CAS index for ${key}`);
      }
      opts.cas = options.cas;
    }
    try {
      // A lost CAS resolves `undefined` (or false), a write `true`.
      const result = await this.kv.set(opts);
      return result === true;
    } catch (err) {
      throw toUpstream(err, `write ${key}`);
    }
  }

  async watch(
    key: string,
    index: number,
    options: { waitMs: number; signal?: AbortSignal },
  ): Promise<{ entry: KvEntry | null; index: number }> {
    const { signal } = options;
    signal?.throwIfAborted();
    const waitMs = Math.max(1, Math.min(Math.floor(options.waitMs), MAX_WAIT_MS));
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true as const });
    const onAbort = () => ctx.emit('cancel');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const from = Number.isSafeInteger(index) && index > 0 ? index : 0;
      const query: Record<string, unknown> = {
        // Consul may add up to wait/16 of jitter; leave room for it and the network.
        timeout: waitMs + Math.ceil(waitMs / 16) + this.requestTimeoutMs,
        ctx,
      };
      if (from > 0) Object.assign(query, { index: String(from), wait: `${waitMs}ms` });
      const [res, item] = await this.read(key, query, 'watch', ctx).catch((err: unknown) => {
        if (signal?.aborted) throw signal.reason;
        throw err;
      });
      const entry = toEntry(key, item);
      let next = Number(res.headers['x-consul-index'] ?? NaN);
      if (!Number.isSafeInteger(next) || next < 0) next = entry?.modifyIndex ?? 0;
      // The index went backwards (snapshot restore, new cluster): start over from 0.
      if (next < from) next = 0;
      return { entry, index: next };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async read(
    key: string,
    extra: Record<string, unknown>,
    what: string,
    ctx: Ctx = Object.assign(new EventEmitter(), { includeResponse: true as const }),
  ): Promise<WithResponse<RawItem>> {
    try {
      const out = (await this.kv.get({ key, ctx, ...extra })) as WithResponse<RawItem> | undefined;
      if (!Array.isArray(out) || !out[0]) throw new Error('no response');
      return out;
    } catch (err) {
      throw toUpstream(err, `${what} ${key}`);
    }
  }
}

function toEntry(key: string, item: RawItem | undefined): KvEntry | null {
  if (!item || typeof item !== 'object') return null;
  const modifyIndex = Number(item.ModifyIndex);
  return {
    key: item.Key ?? key,
    value: item.Value ?? '',
    modifyIndex: Number.isSafeInteger(modifyIndex) ? modifyIndex : 0,
  };
}

/** A short, secret-free description of a papi/Consul failure. */
function toUpstream(err: unknown, what: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as {
    message?: string;
    code?: string;
    response?: { statusCode?: number };
    statusCode?: number;
  };
  const status = e?.response?.statusCode ?? e?.statusCode;
  let reason: string;
  if (status === 403) reason = 'permission denied (check the Consul ACL token)';
  else if (status) reason = `HTTP ${status}${e.message ? `: ${String(e.message).slice(0, 80)}` : ''}`;
  else if (e?.code) reason = `unreachable (${e.code})`;
  else reason = String(e?.message ?? err).slice(0, 120);
  // Keep a sanitised cause: the papi error holds the request, and with it the token header.
  const cause = new Error(reason);
  return new UpstreamError('consul', `Consul ${what} failed: ${reason}`, { cause });
}
