/**
 * The embedded state backend: PGlite in a local folder. PGlite does not lock its folder
 * against a second process, so we do, with a lock file naming our pid and when our process
 * started (a pid the system reused for another process does not hold the lock).
 *
 * The folder holds approvals and the audit log: it is created 0700 whatever the umask, and a
 * folder that other users can write is refused at start with the command that fixes it.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { ConfigError, ConflictError } from '../core/errors.js';
import type { Db } from './db.js';

/** When a process started, as the kernel counts it (clock ticks since boot); null where unknown. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall: starttime
  } catch {
    return null;
  }
}

/** A private folder: created 0700; an existing one that others may write is refused. */
export function ensurePrivateDir(dir: string, what = 'state folder'): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new ConfigError(`the ${what} ${dir} is not a folder`);
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new ConfigError(
      `the ${what} ${dir} can be written by other users (mode ${mode}): anyone could edit approvals and the audit log. Fix it with: chmod 700 '${dir}'`,
    );
  }
  // Readable by others but not writable (an older start under umask 022): ours, so tighten it.
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
}

interface LockRecord {
  pid: number;
  startTime: string | null;
}

function readLock(file: string): LockRecord | null {
  const text = readFileSync(file, 'utf8').trim();
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord> | number;
    if (typeof parsed === 'number') return { pid: parsed, startTime: null };
    if (typeof parsed?.pid === 'number') return { pid: parsed.pid, startTime: typeof parsed.startTime === 'string' ? parsed.startTime : null };
  } catch {
    /* unreadable: stale */
  }
  return null;
}

/** Whether the lock's process is still the one that wrote it. */
function holds(lock: LockRecord): boolean {
  if (lock.pid === process.pid || !alive(lock.pid)) return false;
  if (lock.startTime === null) return true;
  const now = processStartTime(lock.pid);
  return now === null || now === lock.startTime;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeFolderLock(dir: string): string {
  ensurePrivateDir(dir);
  const lockFile = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
      closeSync(fd);
      return lockFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const lock = readLock(lockFile);
      if (lock && holds(lock)) {
        throw new ConflictError(
          `the state folder ${dir} is in use by another Conveyor process (pid ${lock.pid}); stop it, or talk to it with "conveyor run"`,
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
  const db = await wrapPglite(pg, lockFile);
  return dir ? { ...db, dir } : db;
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
