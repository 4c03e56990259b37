/**
 * A throwaway real PostgreSQL for the suite: initdb into a temp folder, start it on a free
 * loopback port, hand out databases, stop and remove it. As root, initdb and pg_ctl run as the
 * `postgres` user (initdb refuses root). No binaries → a clear error: CI installs them
 * (.ci/run), and the store tests must not silently skip.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  /** Create an empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl. */
export function findPostgresBin(root = '/usr/lib/postgresql'): string {
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = join(root, major, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  throw new Error(
    `no PostgreSQL binaries under ${root}/*/bin (initdb, pg_ctl): install them (Debian: apt-get install postgresql; .ci/run does this)`,
  );
}

/** A loopback port that was free a moment ago. */
/** `pg_ctl` arguments that start the server of `data` on loopback `port`, its socket and log in `dir`. */
export function pgCtlStartArgs(data: string, dir: string, port: number): string[] {
  return [
    '-D',
    data,
    '-w',
    '-t',
    '60',
    '-l',
    join(dir, 'server.log'),
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
    'start',
  ];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** uid/gid of the `postgres` user (`id` needs no extra dependency). */
async function lookupPostgresUser(): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(
      'running as root, but there is no "postgres" user to run initdb as (install the postgresql package)',
    );
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-pg-'));
  if (asRoot) {
    const ids = await lookupPostgresUser();
    chownSync(dir, ids.uid, ids.gid);
  }
  // As root: runuser -u postgres -- <tool> …; otherwise the tool directly. argv arrays only.
  const tool = (name: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, name), ...args]) : run(join(bin, name), args);
  const data = join(dir, 'data');
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await tool('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  } catch (err) {
    cleanup();
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await tool('pg_ctl', pgCtlStartArgs(data, dir, port));
      break;
    } catch (err) {
      // The port may have been taken between freePort() and the start: try another one.
      if (attempt < 2) continue;
      const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000) : '';
      cleanup();
      throw new Error(`pg_ctl start failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}\n${log}`);
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  // A test process that ends without calling stop() (a timeout, an interrupted run) must not
  // leave a server behind.
  const stopOnExit = () => {
    if (stopped) return;
    const argv = [join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
    try {
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { stdio: 'ignore' });
      else execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    cleanup();
  };
  process.once('exit', stopOnExit);
  return {
    url,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', stopOnExit);
      try {
        await tool('pg_ctl', ['-D', data, '-w', '-t', '60', '-m', 'fast', 'stop']);
      } finally {
        cleanup();
      }
    },
  };
}
