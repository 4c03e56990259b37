/**
 * In-memory PGlite databases for the scenarios, loaded from one dump of this installation's
 * migrated template (`npm install` leaves it: src/store/pglite-db.ts), made once per bench run
 * and handed to the scenarios' child processes in `CONVEYOR_BENCH_PGLITE_SEED`. Loading the dump
 * costs ~0.6 s; Postgres's initdb in memory costs ~4.6 s per process and a PGlite `clone()` ~1.1 s
 * (measured on this machine). No scenario measures that set-up (the footprint scenario measures
 * real starts), and the database is the same: migrated to this version's level, in memory, with
 * PGlite's default settings unless `startParams` are given (e.g. serve's own, `pgliteStartParams()`).
 * Without a template (an installation that skipped its install scripts) it is made here first.
 *
 * The dump is kept between runs beside the template it was made from
 * (`node_modules/.cache/conveyor/pglite-<version>-m<level>.bench-seed-v<format>-<made>.tar`, named
 * after the migrated template's folder and when that folder was made), so a later run loads it
 * instead of making it again (~3–4 s of a child's CPU); the first run after an install makes it
 * as before, and a template made again (or another migration level) gets a dump of its own.
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { childEnv, spawnChild, tsxArgs } from './proc.js';

export const SEED_ENV = 'CONVEYOR_BENCH_PGLITE_SEED';
const HERE = fileURLToPath(import.meta.url);

let made: Promise<string> | null = null;
let named: (() => void) | null = null;
const naming = new Promise<void>((resolve) => {
  named = resolve;
});

/** Bumped when makeSeed changes what it writes, so that an older kept dump is not used. */
const SEED_FORMAT = 1;

/**
 * Where the dump of the migrated template `migrated` is kept between runs (beside it, named after
 * it and the time its folder was made), or null when it has no migrated template yet.
 */
function keptSeedPath(migrated: string): string | null {
  try {
    const madeAt = Math.round(statSync(join(migrated, 'PG_VERSION')).mtimeMs);
    return `${migrated}.bench-seed-v${SEED_FORMAT}-${madeAt}.tar`;
  } catch {
    return null;
  }
}

/** Keep `file` as `kept` (replacing the dumps of earlier templates); a read-only cache keeps nothing. */
function keep(file: string, kept: string): void {
  const tmp = `${kept}.tmp-${process.pid}`;
  try {
    const prefix = `${basename(kept).replace(/\.bench-seed-.*$/, '')}.bench-seed-`;
    for (const old of readdirSync(dirname(kept)))
      if (old.startsWith(prefix) && old !== basename(kept)) rmSync(join(dirname(kept), old), { force: true });
    copyFileSync(file, tmp);
    renameSync(tmp, kept);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** Writes the dump to `file`: a copy of the migrated template opened, dumped, closed. */
async function makeSeed(file: string): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { copyStateFolder, liftoffForPglite, preparePgliteTemplate } = await import('../../src/store/pglite-db.js');
  const folder = `${file}.state`;
  // a copy: opening a folder writes to it, and the installation's template stays as it is
  await copyStateFolder(await preparePgliteTemplate(), folder);
  liftoffForPglite(); // compiled as the product compiles it
  const pg = new PGlite(folder);
  let dump: Blob;
  try {
    await pg.waitReady; // (a dump asked before it is ready never settles)
    dump = await pg.dumpDataDir('none');
  } finally {
    await pg.close();
  }
  writeFileSync(`${file}.tmp`, Buffer.from(await dump.arrayBuffer()));
  renameSync(`${file}.tmp`, file);
  rmSync(folder, { recursive: true, force: true });
}

/**
 * The dump's path: the one this process was given (once its maker has finished), else one made
 * now by a child process (in a temp folder removed when this process exits), which the children
 * this process starts inherit, even those started before it is ready.
 * A child, because the WASM heap PGlite leaves behind stays in the process that opened it, and
 * every process a bigger process spawns costs more (the scenarios spawn Git and Node often).
 */
export function pgliteSeed(): Promise<string> {
  if (made) return made;
  made = (async () => {
    const given = process.env[SEED_ENV];
    if (given) {
      named?.();
      return await madeBy(given);
    }
    // a dump kept by an earlier run, made from this installation's migrated template as it is now
    const { migratedTemplateDir } = await import('../../src/store/pglite-db.js');
    const kept = keptSeedPath(migratedTemplateDir());
    if (kept && existsSync(kept)) {
      process.env[SEED_ENV] = kept;
      named?.();
      return kept;
    }
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-pglite-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'seed.tar');
    // named before it exists: children started meanwhile wait for it (madeBy)
    process.env[SEED_ENV] = file;
    named?.();
    const child = spawnChild(process.execPath, tsxArgs(HERE, file), { env: childEnv() });
    const code = await child.exited;
    if (code !== 0 || !existsSync(file)) {
      writeFileSync(`${file}.failed`, '');
      throw new Error(`making the PGlite seed failed (exit ${code}): ${child.output().trim().slice(-300)}`);
    }
    // the child made the migrated template first if there was none
    const keepAs = kept ?? keptSeedPath(migratedTemplateDir());
    if (keepAs) keep(file, keepAs);
    return file;
  })();
  made.catch(() => named?.()); // (a failure is the seed's consumers' to report)
  return made;
}

/**
 * Starts the seed and resolves once its path is in this process's environment (`SEED_ENV`): a
 * child process spawned from then on inherits it instead of making a seed of its own.
 */
export function pgliteSeedNamed(): Promise<void> {
  void pgliteSeed().catch(() => {});
  return naming;
}

/** The seed a parent process names: once it exists (it appears whole, renamed into place). */
async function madeBy(file: string, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) return file;
    if (existsSync(`${file}.failed`)) throw new Error(`the PGlite seed ${file} could not be made`);
    if (Date.now() > deadline) throw new Error(`the PGlite seed ${file} did not appear within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The dump as PGlite reads it (`arrayBuffer()`, then untar): the bytes read from the file, not a
 * Blob's copy of them read back in chunks (~0.1 s of each store's load here).
 */
class DumpBlob extends Blob {
  readonly #dump: Buffer;

  constructor(dump: Buffer) {
    super([], { type: 'application/x-tar' });
    this.#dump = dump;
  }

  override get size(): number {
    return this.#dump.byteLength;
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    const { buffer, byteOffset, byteLength } = this.#dump;
    // readFileSync gives a file this size a buffer of its own; a pooled one would be sliced out
    return byteOffset === 0 && byteLength === buffer.byteLength
      ? (buffer as ArrayBuffer)
      : (buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer);
  }
}

/** A fresh, migrated in-memory PGlite loaded from the seed. */
export async function seededPglite(startParams?: string[]): Promise<PGlite> {
  const file = await pgliteSeed();
  // imported here: the bench's entry starts the seed before it loads anything heavy
  const { PGlite } = await import('@electric-sql/pglite');
  const { liftoffForPglite } = await import('../../src/store/pglite-db.js');
  liftoffForPglite();
  const pg = new PGlite({
    loadDataDir: new DumpBlob(readFileSync(file)),
    ...(startParams ? { startParams } : {}),
  });
  await pg.waitReady;
  return pg;
}

// `node --import tsx bench/lib/pglite-seed.ts <file>`: make the seed (what pgliteSeed() runs)
if (process.argv[1] === HERE && process.argv[2]) {
  makeSeed(process.argv[2]).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
