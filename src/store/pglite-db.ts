/**
 * The embedded state backend: PGlite in a local folder. PGlite does not lock its folder
 * against a second process, so we do, with a pid file, and name the other process.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { ConflictError } from '../core/errors.js';
import type { Db } from './db.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeFolderLock(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const lockFile = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return lockFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      if (pid && pid !== process.pid && alive(pid)) {
        throw new ConflictError(
          `the state folder ${dir} is in use by another Conveyor process (pid ${pid}); stop it, or talk to it with "conveyor run"`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new ConflictError(`cannot lock the state folder ${dir}`);
}

type Queryable = Pick<PGlite, 'query' | 'exec'> | Transaction;

function wrap(q: Queryable, kind: 'pglite', tx: (fn: (db: Db) => Promise<unknown>) => Promise<unknown>): Db {
  return {
    kind,
    async query<T>(sql: string, params: unknown[] = []) {
      const res = await q.query<T>(sql, params as never[]);
      return res.rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
    transaction: tx as Db['transaction'],
    async close() {},
  };
}

export async function openPglite(dir: string | null): Promise<Db> {
  const lockFile = dir ? takeFolderLock(dir) : null;
  const pg = dir ? new PGlite(dir) : new PGlite();
  return wrapPglite(pg, lockFile);
}

/** A Db over an open PGlite (e.g. a clone of a migrated template in tests). */
export async function wrapPglite(pg: PGlite, lockFile: string | null = null): Promise<Db> {
  await pg.waitReady;
  // PGlite runs one query at a time; transactions must not interleave with other queries.
  const db = wrap(pg, 'pglite', (fn) => pg.transaction((t) => fn(wrap(t, 'pglite', (inner) => inner(db)))));
  return {
    ...db,
    async close() {
      await pg.close();
      if (lockFile) rmSync(lockFile, { force: true });
    },
  };
}
