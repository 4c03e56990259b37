/**
 * The embedded key-value store (the sandbox's Consul): keys in the state store with a global
 * modify index, compare-and-set, and blocking watches woken by an in-process signal.
 * `serve` exposes it with Consul's HTTP shape (src/server/kv-routes.ts) so agents in other
 * processes use the same Consul adapter against it.
 */
import { EventEmitter } from 'node:events';
import type { KvEntry, KvStore } from '../core/ports.js';
import type { Db } from './db.js';

export class EmbeddedKv implements KvStore {
  private readonly changes = new EventEmitter();

  constructor(private readonly db: Db) {
    this.changes.setMaxListeners(0);
  }

  async get(key: string): Promise<KvEntry | null> {
    const rows = await this.db.query<{ key: string; value: string; modify_index: string | number }>(
      'SELECT * FROM kv WHERE key = $1',
      [key],
    );
    const r = rows[0];
    return r ? { key: r.key, value: r.value, modifyIndex: Number(r.modify_index) } : null;
  }

  async index(): Promise<number> {
    const rows = await this.db.query<{ max: string | number | null }>('SELECT max(modify_index) AS max FROM kv');
    return Number(rows[0]?.max ?? 0);
  }

  async put(key: string, value: string, options: { cas?: number } = {}): Promise<boolean> {
    const written = await this.db.transaction(async (tx) => {
      const [next] = await tx.query<{ n: string | number }>("SELECT nextval('kv_index') AS n");
      const index = Number(next!.n);
      if (options.cas === undefined) {
        await tx.query(
          'INSERT INTO kv (key, value, modify_index) VALUES ($1,$2,$3) ON CONFLICT (key) DO UPDATE SET value = $2, modify_index = $3',
          [key, value, index],
        );
        return true;
      }
      if (options.cas === 0) {
        const rows = await tx.query(
          'INSERT INTO kv (key, value, modify_index) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING RETURNING key',
          [key, value, index],
        );
        return rows.length === 1;
      }
      const rows = await tx.query(
        'UPDATE kv SET value = $2, modify_index = $3 WHERE key = $1 AND modify_index = $4 RETURNING key',
        [key, value, index, options.cas],
      );
      return rows.length === 1;
    });
    if (written) this.changes.emit('change', key);
    return written;
  }

  async watch(
    key: string,
    index: number,
    options: { waitMs: number; signal?: AbortSignal },
  ): Promise<{ entry: KvEntry | null; index: number }> {
    const read = async () => {
      const entry = await this.get(key);
      return { entry, index: entry?.modifyIndex ?? (await this.index()) };
    };
    const aborted = () => Object.assign(new Error('aborted'), { name: 'AbortError' });
    if (options.signal?.aborted) throw aborted();
    const first = await read();
    // A present key answers when its index differs; an absent one only when the store moved past the caller.
    if (index === 0 || (first.entry ? first.index !== index : first.index > index)) return first;
    if (options.signal?.aborted) throw aborted();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.changes.off('change', onChange);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onChange = (changed: string) => {
        if (changed !== key) return;
        done();
        read().then(resolve, reject);
      };
      const onAbort = () => {
        done();
        reject(aborted());
      };
      const timer = setTimeout(() => {
        done();
        read().then(resolve, reject);
      }, options.waitMs);
      this.changes.on('change', onChange);
      options.signal?.addEventListener('abort', onAbort);
    });
  }
}
