/**
 * Stop and start the test PostgreSQL of test/support/postgres.ts in place: same data folder,
 * same port, so a `pg.Pool` holding the URL reconnects once the server is back. The data folder
 * is asked of the server itself (`SHOW data_directory`); pg_ctl runs as in postgres.ts (as the
 * `postgres` user when we are root, argv arrays only).
 */
import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findPostgresBin, pgCtlStartArgs } from '../../support/postgres.js';

const run = promisify(execFile);

export interface RestartablePostgres {
  /** `pg_ctl stop -m fast`: every connection is closed, new ones are refused. */
  stopServer(): Promise<void>;
  /** Start it again on the same port and data folder. */
  startServer(): Promise<void>;
  /** Whether the server is up, as far as these helpers know. */
  readonly up: boolean;
}

export async function restartable(superuserUrl: string): Promise<RestartablePostgres> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  let data: string;
  try {
    data = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
  } finally {
    await client.end();
  }
  const port = Number(new URL(superuserUrl).port);
  const dir = dirname(data);
  const bin = findPostgresBin();
  const asRoot = userInfo().uid === 0;
  const pgCtl = (args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args]) : run(join(bin, 'pg_ctl'), args);
  let up = true;
  return {
    get up() {
      return up;
    },
    async stopServer() {
      await pgCtl(['-D', data, '-w', '-t', '60', '-m', 'fast', 'stop']);
      up = false;
    },
    async startServer() {
      await pgCtl(pgCtlStartArgs(data, dir, port));
      up = true;
    },
  };
}
