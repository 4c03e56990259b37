/**
 * Private state under the most permissive umask (0): the embedded store's folder (0700) and
 * its lock (0600, naming pid and process start time), serve's token file, the journal outbox
 * and the local object store are created private whatever the umask; a state folder others
 * can write is refused at start with the command that fixes it; a stale lock whose pid the
 * system reused for another process does not block start, while a live holder does.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/local-object-store.js';
import { Outbox } from '../../src/journal/outbox.js';
import { writeServeInfo } from '../../src/server/serve-info.js';
import { openPglite, processStartTime } from '../../src/store/pglite-db.js';
import { family, printFamilies } from './support/summary.js';

const mode = (p: string) => statSync(p).mode & 0o777;

/** 'opened' (and closed again), or the error message of the refusal. */
async function tryOpen(dir: string): Promise<string> {
  try {
    const db = await openPglite(dir);
    await db.close();
    return 'opened';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('private state under umask 0', () => {
  let root: string;
  let umask: number;
  const fam = family('private state and the state-folder lock');

  beforeAll(() => {
    umask = process.umask(0);
    root = mkdtempSync(join(tmpdir(), 'conveyor-private-'));
  });
  afterAll(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
    printFamilies();
  });

  it('creates the embedded store 0700 with a 0600 lock naming pid and start time; refuses a folder others can write', async () => {
    const dir = join(root, 'state');
    const db = await openPglite(dir);
    try {
      fam.record(mode(dir) === 0o700, `state folder mode ${mode(dir).toString(8)}`);
      fam.record(mode(`${dir}.lock`) === 0o600, `lock mode ${mode(`${dir}.lock`).toString(8)}`);
      const lock = JSON.parse(readFileSync(`${dir}.lock`, 'utf8')) as { pid: number; startTime: string };
      fam.record(
        lock.pid === process.pid && lock.startTime === processStartTime(process.pid),
        `lock ${JSON.stringify(lock)}`,
      );
    } finally {
      await db.close();
    }
    const open = join(root, 'open-state');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const refused = await openPglite(open).then(
      () => 'opened',
      (err: Error) => err.message,
    );
    fam.record(
      refused.includes('can be written by other users') && refused.includes(`chmod 700 '${open}'`),
      `world-writable folder: ${refused}`,
    );
    chmodSync(open, 0o775);
    const groupWritable = await openPglite(open).then(
      () => 'opened',
      (err: Error) => err.message,
    );
    fam.record(groupWritable.includes('chmod 700'), `group-writable folder: ${groupWritable}`);
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  }, 120_000);

  it('a stale lock naming a reused pid does not block start; a live holder does', async () => {
    const dir = join(root, 'state');
    const parent = process.ppid;
    // The parent is alive, but the lock says it started at another time: the pid was reused.
    writeFileSync(`${dir}.lock`, JSON.stringify({ pid: parent, startTime: '1' }));
    const reused = await tryOpen(dir);
    fam.record(reused === 'opened', `lock of a reused pid: ${reused}`);
    // An old-style lock (a bare pid) of a process that is gone.
    writeFileSync(`${dir}.lock`, '2147483646');
    const gone = await tryOpen(dir);
    fam.record(gone === 'opened', `lock of a dead pid: ${gone}`);
    // The real holder (alive, same start time) still blocks.
    writeFileSync(`${dir}.lock`, JSON.stringify({ pid: parent, startTime: processStartTime(parent) }));
    const held = await tryOpen(dir);
    fam.record(held.includes(`pid ${parent}`), `lock of a live holder: ${held}`);
    rmSync(`${dir}.lock`, { force: true });
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  }, 120_000);

  it('writes the serve token, the outbox and local objects private', async () => {
    const info = join(root, 'serve.json');
    writeFileSync(info, '{}', { mode: 0o666 });
    writeServeInfo(info, { pid: process.pid, port: 1234, token: 'a-serve-token' });
    fam.record(mode(info) === 0o600, `serve.json mode ${mode(info).toString(8)} (an older 0666 file was there)`);

    const journals = join(root, 'exports');
    mkdirSync(journals);
    const outbox = new Outbox(journals);
    await outbox.init();
    await outbox.save({
      file: 'a.jnl',
      size: 1,
      mtimeMs: 0,
      step: 'new',
      attempts: 0,
      ticketChecks: 0,
      reportedWaiting: false,
      reportedFailure: false,
      firstSeenAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    });
    fam.record(mode(outbox.root) === 0o700, `outbox folder mode ${mode(outbox.root).toString(8)}`);
    for (const name of readdirSync(outbox.root).filter((n) => n.endsWith('.json'))) {
      fam.record(
        mode(join(outbox.root, name)) === 0o600,
        `outbox record ${name} mode ${mode(join(outbox.root, name)).toString(8)}`,
      );
    }

    const objects = new LocalObjectStore(join(root, 'objects'));
    await objects.put('journals/dev/v1/a.jnl', Readable.from([Buffer.from('x')]), { metadata: {} });
    fam.record(mode(join(root, 'objects', 'data', 'journals', 'dev', 'v1', 'a.jnl')) === 0o600, 'object file mode');
    fam.record(mode(join(root, 'objects', 'data', 'journals', 'dev', 'v1')) === 0o700, 'object folder mode');
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  });
});
