/**
 * Apply locks (table `locks`) of (app, env): an operation's while it applies, or a manual one
 * (`*` for every app). One row per (app, env, manual): the primary key is the lock.
 */
import { ConflictError } from '../core/errors.js';
import type { Clock, LockRow, LockStore } from '../core/ports.js';
import type { Db } from './db.js';
import { iso } from './rows.js';

const toLock = (r: Record<string, unknown>): LockRow => ({
  app: String(r.app),
  env: String(r.env),
  operationId: (r.operation_id as string | null) ?? null,
  holder: String(r.holder),
  reason: String(r.reason),
  manual: Boolean(r.manual),
  at: iso(r.at),
});

/** The locks on (app, env), manual ones (also `*`) first; on `db` or a transaction. */
async function locksOn(db: Db, app: string, env: string, manualOnly: boolean): Promise<LockRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT * FROM locks WHERE env = $2 AND (app = $1 OR (manual AND app = '*')) AND ($3 = false OR manual) ORDER BY manual DESC`,
    [app, env, manualOnly],
  );
  return rows.map(toLock);
}

export class SqlLockStore implements LockStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /**
   * Take the apply lock of (app, env) for an operation. Returns null on success, else the
   * lock that is in the way (an operation's or a manual one, also `*` for every app).
   */
  async acquireLock(
    app: string,
    env: string,
    operationId: string,
    holder: string,
    reason: string,
  ): Promise<LockRow | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      // One statement: taken unless a manual lock (also `*`) is there or another operation holds it.
      const rows = await this.db.query(
        `INSERT INTO locks (app, env, operation_id, holder, reason, manual, at)
         SELECT $1,$2,$3,$4,$5,false,$6
         WHERE NOT EXISTS (SELECT 1 FROM locks WHERE env = $2 AND manual AND (app = $1 OR app = '*'))
         ON CONFLICT DO NOTHING RETURNING app`,
        [app, env, operationId, holder, reason, this.clock.now().toISOString()],
      );
      if (rows.length === 1) return null;
      // Not taken: the lock in the way (manual ones first), or ours from before.
      const [existing] = await locksOn(this.db, app, env, false);
      if (existing?.operationId === operationId && !existing.manual) return null;
      if (existing) return existing;
      // Released between the two statements: try again.
    }
    const [existing] = await locksOn(this.db, app, env, false);
    if (!existing) throw new ConflictError(`the lock of ${app} in ${env} keeps changing; try again`);
    return existing.operationId === operationId && !existing.manual ? null : existing;
  }

  async releaseLock(app: string, env: string, operationId: string): Promise<void> {
    await this.db.query('DELETE FROM locks WHERE app = $1 AND env = $2 AND manual = false AND operation_id = $3', [
      app,
      env,
      operationId,
    ]);
  }

  async setManualLock(app: string, env: string, holder: string, reason: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO locks (app, env, operation_id, holder, reason, manual, at) VALUES ($1,$2,NULL,$3,$4,true,$5)
       ON CONFLICT DO NOTHING RETURNING app`,
      [app, env, holder, reason, this.clock.now().toISOString()],
    );
    return rows.length === 1;
  }

  async clearManualLock(app: string, env: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM locks WHERE app = $1 AND env = $2 AND manual = true RETURNING app', [
      app,
      env,
    ]);
    return rows.length === 1;
  }

  locksFor(app: string, env: string): Promise<LockRow[]> {
    return locksOn(this.db, app, env, false);
  }

  async allLocks(): Promise<LockRow[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM locks ORDER BY app, env');
    return rows.map(toLock);
  }
}
