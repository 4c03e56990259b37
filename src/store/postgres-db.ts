/** The production state backend: PostgreSQL through a pg pool. */
import pg from 'pg';
import { UpstreamError } from '../core/errors.js';
import type { Db } from './db.js';

type Client = Pick<pg.PoolClient, 'query'>;

function wrap(client: Client, tx: Db['transaction']): Db {
  return {
    kind: 'postgres',
    async query<T>(sql: string, params: unknown[] = []) {
      try {
        const res = await client.query(sql, params);
        return res.rows as T[];
      } catch (err) {
        throw asUpstream(err);
      }
    },
    async exec(sql: string) {
      try {
        await client.query(sql);
      } catch (err) {
        throw asUpstream(err);
      }
    },
    transaction: tx,
    async close() {},
  };
}

function asUpstream(err: unknown): unknown {
  const code = (err as { code?: string }).code ?? '';
  // Connection-level failures are upstream (retryable); SQL errors stay as they are.
  if (/^(ECONNREFUSED|ECONNRESET|57P0[123]|08\d\d\d)$/.test(code) || /terminat|Connection/i.test(String(err))) {
    return new UpstreamError('postgres', `the database is unreachable (${code || 'connection lost'})`, { cause: err });
  }
  return err;
}

export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {
    /* idle client errors surface on the next query */
  });
  const transaction: Db['transaction'] = async (fn) => {
    const client = await pool.connect().catch((err) => {
      throw asUpstream(err);
    });
    try {
      await client.query('BEGIN');
      const inner: Db = wrap(client, (f) => f(inner));
      const result = await fn(inner);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
  const db = wrap(pool, transaction);
  await db.query('SELECT 1');
  return { ...db, close: () => pool.end() };
}
