/**
 * Crash safety of `conveyor journal-watch` as a real process: it is SIGKILLed right after the
 * upload is recorded, then right after the registration is recorded (CONVEYOR_CRASH_AT), and
 * restarted each time. A running serve (in-process, same temp cwd, found through serve.json)
 * must end up with exactly one version, the object store with exactly one object, and the
 * journal in exports/uploaded/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropJournal,
  eventually,
  filesUnder,
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  startJournalServer,
} from '../support/journal-setup.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');

let ws: JournalWorkspace;
let srv: JournalServer;
const children = new Set<ChildProcess>();

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Start `conveyor journal-watch` in the workspace; `exited` settles when the process ends. */
function journalWatch(crashAt?: string): { child: ChildProcess; exited: Promise<Exit> } {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent', GIT_CONFIG_GLOBAL: '/dev/null' };
  delete env.JOURNAL_TOKEN;
  delete env.JOURNAL_TOKENS;
  delete env.CONVEYOR_CRASH_AT;
  if (crashAt) env.CONVEYOR_CRASH_AT = crashAt;
  const child = spawn(process.execPath, [BIN, 'journal-watch', '--cluster', 'dev-modelling', '--dir', 'exports'], {
    cwd: ws.root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout!.resume();
  const exited = new Promise<Exit>((done) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      done({ code, signal, stderr });
    }),
  );
  return { child, exited };
}

const versions = async () =>
  (await srv.api('GET', '/api/journal/versions')).json.versions as { version: string; sha256: string }[];
const objects = () => filesUnder(join(ws.objectsDir, 'data'));
const exportsDir = () => join(ws.root, 'exports');

beforeAll(async () => {
  ws = await makeJournalWorkspace();
  srv = await startJournalServer(ws);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await srv?.stop();
  ws?.remove();
});

describe('journal-watch killed between steps', () => {
  it('dies after the upload, again after the registration, and resumes without a duplicate', async () => {
    dropJournal(exportsDir(), 'ledger.jnl', 'ledger contents v1\n'.repeat(1000));

    // 1. killed right after the upload was recorded: the object exists, no version yet.
    const first = await journalWatch('journal-after-uploaded').exited;
    expect(first.signal).toBe('SIGKILL');
    expect(objects()).toHaveLength(1);
    expect(await versions()).toEqual([]);
    expect(existsSync(join(exportsDir(), 'ledger.jnl'))).toBe(true);

    // 2. restarted, killed right after the registration was recorded: one version, file not moved yet.
    const second = await journalWatch('journal-after-registered').exited;
    expect(second.signal).toBe('SIGKILL');
    const registered = await versions();
    expect(registered).toHaveLength(1);
    expect(objects()).toHaveLength(1);
    expect(existsSync(join(exportsDir(), 'ledger.jnl'))).toBe(true);

    // 3. restarted without a crash point: the journal moves to uploaded/, nothing is added.
    const third = journalWatch();
    await eventually(
      () => existsSync(join(exportsDir(), 'uploaded', 'ledger.jnl')),
      'the journal to move to uploaded/',
      60_000,
    );
    third.child.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);

    const after = await versions();
    expect(after).toEqual(registered);
    expect(objects()).toEqual([`journals/dev-modelling/${after[0]!.version}/ledger.jnl`]);
    expect(filesUnder(join(ws.objectsDir, 'tmp'))).toEqual([]);
    expect(existsSync(join(exportsDir(), 'ledger.jnl'))).toBe(false);
    expect(existsSync(join(exportsDir(), 'uploaded', 'ledger.jnl.meta.json'))).toBe(true);
    // The first dev version seeded the chain exactly once.
    expect((await srv.server.runtime.kv.get('journal_version/dev'))?.value).toBe(after[0]!.version);
    const audit = await srv.server.runtime.store.auditLog({ limit: 100 });
    expect(audit.filter((e) => e.action === 'journal.registered')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'journal.export.uploaded')).toHaveLength(1);
  });
});
