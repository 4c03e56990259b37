/**
 * In-memory PGlite databases for the scenarios, loaded from one dump of this installation's
 * migrated template (`npm install` leaves it: src/store/pglite-db.ts), made once per bench run
 * and handed to the scenarios' child processes in `CONVEYOR_BENCH_PGLITE_SEED`. Loading the dump
 * costs ~0.6 s; Postgres's initdb in memory costs ~4.6 s per process and a PGlite `clone()` ~1.1 s
 * (measured on this machine). No scenario measures that set-up (the footprint scenario measures
 * real starts), and the database is the same: migrated to this version's level, in memory, with
 * PGlite's default settings unless `startParams` are given (e.g. serve's own, `pgliteStartParams()`).
 * Without a template (an installation that skipped its install scripts) it is made here first.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { childEnv, spawnChild, tsxArgs } from './proc.js';

export const SEED_ENV = 'CONVEYOR_BENCH_PGLITE_SEED';
const HERE = fileURLToPath(import.meta.url);

let made: Promise<string> | null = null;

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
  made ??= (async () => {
    const given = process.env[SEED_ENV];
    if (given) return await madeBy(given);
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-pglite-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'seed.tar');
    // named before it exists: children started meanwhile wait for it (madeBy)
    process.env[SEED_ENV] = file;
    const child = spawnChild(process.execPath, tsxArgs(HERE, file), { env: childEnv() });
    const code = await child.exited;
    if (code !== 0 || !existsSync(file)) {
      writeFileSync(`${file}.failed`, '');
      throw new Error(`making the PGlite seed failed (exit ${code}): ${child.output().trim().slice(-300)}`);
    }
    return file;
  })();
  return made;
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

/** A fresh, migrated in-memory PGlite loaded from the seed. */
export async function seededPglite(startParams?: string[]): Promise<PGlite> {
  const file = await pgliteSeed();
  // imported here: the bench's entry starts the seed before it loads anything heavy
  const { PGlite } = await import('@electric-sql/pglite');
  const { liftoffForPglite } = await import('../../src/store/pglite-db.js');
  liftoffForPglite();
  const pg = new PGlite({
    loadDataDir: new Blob([readFileSync(file)]),
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
