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
import { PGlite } from '@electric-sql/pglite';
import { copyStateFolder, liftoffForPglite, preparePgliteTemplate } from '../../src/store/pglite-db.js';

export const SEED_ENV = 'CONVEYOR_BENCH_PGLITE_SEED';

let made: Promise<string> | null = null;

/**
 * The dump's path: the one this process was given, else one made now (in a temp folder removed
 * when the process exits), which the children this process starts inherit.
 */
export function pgliteSeed(): Promise<string> {
  made ??= (async () => {
    const given = process.env[SEED_ENV];
    if (given && existsSync(given)) return given;
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-pglite-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const folder = join(dir, 'state');
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
    const file = join(dir, 'seed.tar');
    writeFileSync(`${file}.tmp`, Buffer.from(await dump.arrayBuffer()));
    renameSync(`${file}.tmp`, file);
    rmSync(folder, { recursive: true, force: true });
    process.env[SEED_ENV] = file;
    return file;
  })();
  return made;
}

/** A fresh, migrated in-memory PGlite loaded from the seed. */
export async function seededPglite(startParams?: string[]): Promise<PGlite> {
  const file = await pgliteSeed();
  liftoffForPglite();
  const pg = new PGlite({
    loadDataDir: new Blob([readFileSync(file)]),
    ...(startParams ? { startParams } : {}),
  });
  await pg.waitReady;
  return pg;
}
