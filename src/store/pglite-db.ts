/**
 * The embedded state backend: PGlite in a local folder. PGlite does not lock its folder
 * against a second process, so we do, with a lock file naming our pid and when our process
 * started (a pid the system reused for another process does not hold the lock).
 *
 * The folder holds approvals and the audit log: it is created 0700 whatever the umask, and a
 * folder that other users can write is refused at start with the command that fixes it.
 *
 * Memory: PGlite is a whole Postgres in WASM, and its defaults are a server's (128 MB of shared
 * buffers, 4 MB per sort, 1 GB of WAL before a checkpoint). An embedded control plane holds a
 * few thousand small rows, so it runs with small buffers (PGLITE_TUNING). Creating a new folder
 * (Postgres's initdb) takes seconds and leaves hundreds of MiB the WASM heap never gives back,
 * so it is never done in the server's process: a new folder is a copy of this installation's
 * template (an initialised folder made once, by `npm install` or the first new folder; `npm install`
 * also leaves one migrated to the current level, so a first start runs no migration),
 * or, without a template, is initialised by a short-lived child process.
 */
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { ConfigError, ConflictError } from '../core/errors.js';
import type { Db } from './db.js';
import { MIGRATION_LEVEL, migrate } from './migrations.js';

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
    if (typeof parsed?.pid === 'number')
      return { pid: parsed.pid, startTime: typeof parsed.startTime === 'string' ? parsed.startTime : null };
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

/**
 * Postgres settings for an embedded control plane (each a `-c` of PGlite's single-user
 * backend, so they hold for folders made before them too): 16 MB of shared buffers instead of
 * 128, small sort and temp memory, small WAL buffers, and a checkpoint every 64 MB of WAL
 * rather than 1 GB (less to replay after a crash, fewer WAL files kept).
 */
export const PGLITE_TUNING: Record<string, string> = {
  shared_buffers: '16MB',
  work_mem: '1MB',
  maintenance_work_mem: '8MB',
  temp_buffers: '1MB',
  wal_buffers: '256kB',
  max_wal_size: '64MB',
  min_wal_size: '32MB',
  effective_cache_size: '64MB',
};

export function pgliteStartParams(): string[] {
  return [...PGlite.defaultStartParams, ...Object.entries(PGLITE_TUNING).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
}

/** PGlite's CommonJS entry (the init child is a plain `node -e` script). */
const PGLITE_ENTRY = createRequire(import.meta.url).resolve('@electric-sql/pglite');
/** node_modules/@electric-sql/pglite/ */
const PGLITE_PACKAGE = join(dirname(PGLITE_ENTRY), '..');

const PGLITE_VERSION = (() => {
  try {
    return (
      (JSON.parse(readFileSync(join(PGLITE_PACKAGE, 'package.json'), 'utf8')) as { version?: string }).version ??
      'unknown'
    );
  } catch {
    return 'unknown';
  }
})();

/**
 * Where this installation keeps its initialised, empty PGlite folder (per PGlite version):
 * `CONVEYOR_PGLITE_TEMPLATE`, else node_modules/.cache/conveyor/ beside the PGlite package.
 */
export function pgliteTemplateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONVEYOR_PGLITE_TEMPLATE) return env.CONVEYOR_PGLITE_TEMPLATE;
  return join(PGLITE_PACKAGE, '..', '..', '.cache', 'conveyor', `pglite-${PGLITE_VERSION}`);
}

/**
 * PGlite's Postgres is WebAssembly. V8 compiles it with its baseline compiler (Liftoff), then
 * recompiles hot functions with TurboFan in background threads; for an embedded control plane's
 * small queries that second tier costs more than it gives. Measured on this project's machine:
 * opening a state folder took 1.1–1.4 s against 0.6–1.0 s with Liftoff alone, four rounds of
 * 4,500 small queries were no faster (4.4–4.6 s once warm against 3.8–4.3 s), and the process
 * kept 50–60 MiB more (the optimising compiler's memory, left in its threads' malloc arenas).
 * So Liftoff only, set just before a process first opens PGlite (only processes that use the
 * embedded store: the flag then holds for every WebAssembly module in the process, undici's
 * HTTP parser too). CONVEYOR_PGLITE_TIERUP=1 keeps V8's default.
 */
export const LIFTOFF_ONLY = process.env.CONVEYOR_PGLITE_TIERUP !== '1';
let liftoffSet = false;
export function liftoffForPglite(): void {
  if (!LIFTOFF_ONLY || liftoffSet) return;
  liftoffSet = true;
  setFlagsFromString('--liftoff-only');
}

const initialised = (dir: string) => existsSync(join(dir, 'PG_VERSION'));

/** Postgres's initdb for `dir`, in a child process whose memory goes away with it. */
export async function initPgliteInChild(dir: string): Promise<void> {
  const script = `const { PGlite } = require(${JSON.stringify(PGLITE_ENTRY)});
(async () => { const pg = new PGlite(${JSON.stringify(dir)}, { startParams: ${JSON.stringify(pgliteStartParams())} });
await pg.waitReady; await pg.close(); })().catch((e) => { console.error(e); process.exit(1); });`;
  await new Promise<void>((resolve, reject) => {
    const args = [...(LIFTOFF_ONLY ? ['--liftoff-only'] : []), '-e', script];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`initialising the PGlite folder failed (exit ${code}): ${err.trim().split('\n').at(-1) ?? ''}`),
          ),
    );
  });
  if (!initialised(dir)) throw new Error(`initialising the PGlite folder ${dir} left no PG_VERSION`);
}

/**
 * The template migrated to this version's level (`<template>-m<N>`): a new state folder copied
 * from it starts with its tables made, so the first start runs no migration.
 */
export function migratedTemplateDir(env: NodeJS.ProcessEnv = process.env): string {
  return `${pgliteTemplateDir(env)}-m${MIGRATION_LEVEL}`;
}

/**
 * Make this installation's templates if they are missing (what `npm install` runs, through
 * scripts/pglite-template.mjs): the initialised folder (initdb in a child), and a copy of it
 * migrated to this version's level (migrations in this process, which is not a server).
 */
export async function preparePgliteTemplate(template = pgliteTemplateDir()): Promise<string> {
  if (!initialised(template)) {
    const tmp = `${template}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(dirname(template), { recursive: true });
    await initPgliteInChild(tmp);
    try {
      renameSync(tmp, template);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process made it first
    }
  }
  const migrated = `${template}-m${MIGRATION_LEVEL}`;
  if (!initialised(migrated)) {
    const tmp = `${migrated}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    await copyStateFolder(template, tmp);
    liftoffForPglite();
    const pg = new PGlite(tmp, { startParams: pgliteStartParams() });
    const db = await wrapPglite(pg, null);
    try {
      await migrate(db);
    } finally {
      await pg.close();
    }
    try {
      renameSync(tmp, migrated);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process made it first
    }
  }
  return migrated;
}

/**
 * An empty (just created) state folder becomes an initialised one without initdb in this
 * process: a copy of the template, else a child's initdb (whose result becomes the template).
 * The work happens beside the folder and is renamed into place, so a crash leaves it empty.
 */
/**
 * Copy a state folder (a template: ~1,000 files, ~40 MiB) to `to`, which must not exist: by
 * the system's `cp -R -p` (0.08–0.15 s here, against 0.3–0.36 s for Node's `cpSync`, which
 * pays a JavaScript round trip per file), else by `cpSync` where there is no POSIX `cp`.
 */
export async function copyStateFolder(from: string, to: string): Promise<void> {
  const byCp = await new Promise<boolean>((resolve) => {
    execFile('cp', ['-R', '-p', from, to], { timeout: 120_000 }, (err) => resolve(!err));
  });
  if (byCp && initialised(to)) return;
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
}

async function initialiseFolder(dir: string): Promise<void> {
  if (initialised(dir)) return;
  if (readdirSync(dir).length > 0) return; // something else: let PGlite say what is wrong
  const tmp = `${dir}.init-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  let template: string | null = null;
  try {
    template = pgliteTemplateDir();
  } catch {
    /* no template location */
  }
  const migrated = template ? `${template}-m${MIGRATION_LEVEL}` : null;
  if (migrated && initialised(migrated)) {
    await copyStateFolder(migrated, tmp);
  } else if (template && initialised(template)) {
    await copyStateFolder(template, tmp);
  } else {
    await initPgliteInChild(tmp);
    if (template) {
      try {
        mkdirSync(dirname(template), { recursive: true });
        await copyStateFolder(tmp, `${template}.tmp-${process.pid}`);
        renameSync(`${template}.tmp-${process.pid}`, template);
      } catch {
        rmSync(`${template}.tmp-${process.pid}`, { recursive: true, force: true }); // read-only install, or made meanwhile
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  chmodSync(dir, 0o700);
}

export async function openPglite(dir: string | null): Promise<Db> {
  const lockFile = dir ? takeFolderLock(dir) : null;
  try {
    if (dir) await initialiseFolder(dir);
  } catch (err) {
    if (lockFile) rmSync(lockFile, { force: true });
    throw err;
  }
  const startParams = pgliteStartParams();
  liftoffForPglite();
  const pg = dir ? new PGlite(dir, { startParams }) : new PGlite({ startParams });
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
