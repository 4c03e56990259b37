/**
 * New embedded state folders: a copy of the installation's template. `npm install` leaves one
 * migrated to the current level, so the first start has its tables without running migrations;
 * without any template, a child process initialises the folder and leaves the template behind.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATION_LEVEL, migrate } from '../../src/store/migrations.js';
import { openPglite, preparePgliteTemplate } from '../../src/store/pglite-db.js';

const root = mkdtempSync(join(tmpdir(), 'pglite-template-'));
const saved = process.env.CONVEYOR_PGLITE_TEMPLATE;
afterAll(() => {
  if (saved === undefined) delete process.env.CONVEYOR_PGLITE_TEMPLATE;
  else process.env.CONVEYOR_PGLITE_TEMPLATE = saved;
  rmSync(root, { recursive: true, force: true });
});

const levelOf = async (db: Awaited<ReturnType<typeof openPglite>>) =>
  Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations'))[0]!.n);

describe('PGlite templates', () => {
  it('npm install’s template is migrated: a new folder has every table before any migration runs, and is its own copy', async () => {
    const template = join(root, 'install', 'pglite');
    process.env.CONVEYOR_PGLITE_TEMPLATE = template;
    const made = await preparePgliteTemplate(template);
    expect(made).toBe(`${template}-m${MIGRATION_LEVEL}`);
    expect(existsSync(join(made, 'PG_VERSION'))).toBe(true);

    const db = await openPglite(join(root, 'one', 'state'));
    try {
      expect(await levelOf(db)).toBe(MIGRATION_LEVEL);
      await db.query("INSERT INTO audit (actor, action) VALUES ('U_A', 'lock')");
      await migrate(db); // nothing left to do
      expect(await levelOf(db)).toBe(MIGRATION_LEVEL);
    } finally {
      await db.close();
    }
    // A second folder starts empty: the first one's rows went to its own copy, not the template.
    const two = await openPglite(join(root, 'two', 'state'));
    try {
      expect(await two.query('SELECT * FROM audit')).toEqual([]);
    } finally {
      await two.close();
    }
  }, 120_000);

  it('without a template, the folder is initialised by a child and the plain template is left for the next', async () => {
    const template = join(root, 'none', 'pglite');
    process.env.CONVEYOR_PGLITE_TEMPLATE = template;
    const db = await openPglite(join(root, 'three', 'state'));
    try {
      await migrate(db);
      expect(await levelOf(db)).toBe(MIGRATION_LEVEL);
    } finally {
      await db.close();
    }
    expect(existsSync(join(template, 'PG_VERSION'))).toBe(true);
    expect(existsSync(`${template}-m${MIGRATION_LEVEL}`)).toBe(false);
  }, 120_000);
});
