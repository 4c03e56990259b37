/** Open the state store named by `state.url`: `pglite:<folder>`, `pglite:memory`, or `postgres://…`. */
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import type { Db } from './db.js';
import { openPglite } from './pglite-db.js';
import { StateStore } from './state-store.js';

export async function openDb(url: string, cwd = process.cwd()): Promise<Db> {
  if (url === 'pglite:memory') return openPglite(null);
  if (url.startsWith('pglite:')) return openPglite(resolve(cwd, url.slice('pglite:'.length)));
  if (/^postgres(ql)?:\/\//.test(url)) {
    // The pg driver loads only for PostgreSQL (an embedded store never needs it).
    const { openPostgres } = await import('./postgres-db.js');
    return openPostgres(url);
  }
  throw new ConfigError('state.url must be pglite:<folder>, pglite:memory or postgres://…', [
    `state.url: unsupported "${url.split(':')[0]}:"`,
  ]);
}

export async function openStore(url: string, clock: Clock, cwd = process.cwd()): Promise<StateStore> {
  const db = await openDb(url, cwd);
  try {
    return await StateStore.open(db, clock);
  } catch (err) {
    await db.close();
    throw err;
  }
}
