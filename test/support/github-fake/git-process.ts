/**
 * Where the GitHub fake runs git: from a small helper process of its own (a plain `node -e`
 * script, no dependencies), never forked from the process that started the fake. The fake stands
 * in for GitHub, a remote server: its work must not be charged to the process under test, which
 * in tests and benchmarks is the same process (a fork from a process holding PGlite costs tens of
 * ms and blocks its event loop while it happens; from the helper it costs a few ms and blocks
 * nothing of the test's). Every git the fake runs goes through here: the REST handlers' plumbing
 * and Git smart HTTP (`git http-backend`), so a direct REST write and a Conveyor fetch pay the
 * same way. Input and output are bytes (packs pass through unchanged).
 *
 * The helper starts on first use, holds the event loop only while a request waits, and exits when
 * released (`release()`, called by the fake's `close()`) or when its parent goes away.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface GitRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

const SOURCE = `
'use strict';
const { spawn } = require('node:child_process');
process.on('message', (m) => {
  const out = [], err = [];
  let done = false;
  const finish = (code, why) => {
    if (done) return;
    done = true;
    try { process.send({ id: m.id, code, stdout: Buffer.concat(out), stderr: why || Buffer.concat(err).toString('utf8') }); } catch { process.exit(0); }
  };
  let p;
  try { p = spawn('git', m.args, { cwd: m.cwd, env: m.env }); } catch (e) { return finish(-1, String(e && e.message)); }
  p.stdout.on('data', (d) => out.push(d));
  p.stderr.on('data', (d) => err.push(d));
  p.on('error', (e) => finish(-1, String(e && e.message)));
  p.on('close', (code, signal) => finish(code == null ? -1 : code, code == null ? 'git killed by ' + signal : undefined));
  p.stdin.on('error', () => {}); // git may exit before reading its input
  p.stdin.end(m.input ? Buffer.from(m.input) : '');
});
process.on('disconnect', () => process.exit(0));
`;

let child: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, { resolve(r: GitRun): void; reject(e: Error): void }>();

function hold(on: boolean): void {
  const channel = child?.channel as { ref?(): void; unref?(): void } | undefined;
  if (on) channel?.ref?.();
  else channel?.unref?.();
}

function ensure(): ChildProcess {
  if (child?.connected) return child;
  const c = spawn(process.execPath, ['--max-old-space-size=64', '-e', SOURCE], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced', // Buffers cross as bytes
  });
  c.on('message', (m: { id: number; code: number; stdout: Uint8Array; stderr: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) hold(false);
    p.resolve({
      code: m.code,
      stdout: Buffer.from(m.stdout.buffer, m.stdout.byteOffset, m.stdout.byteLength),
      stderr: m.stderr,
    });
  });
  const gone = () => {
    if (child === c) child = null;
    for (const [id, p] of [...pending]) {
      pending.delete(id);
      p.reject(new Error('the GitHub fake: its git helper process exited'));
    }
  };
  c.once('exit', gone);
  c.once('error', gone);
  c.once('disconnect', gone);
  c.unref();
  child = c;
  return c;
}

/** `git <args>` in `cwd` with exactly `env`, `input` on its stdin; the exit code is returned. */
export function runGit(args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; input?: Buffer | string }) {
  const c = ensure();
  const id = nextId++;
  return new Promise<GitRun>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (pending.size === 1) hold(true);
    const input = typeof opts.input === 'string' ? Buffer.from(opts.input) : opts.input;
    c.send({ id, args, cwd: opts.cwd, env: opts.env, input }, (err) => {
      if (!err || !pending.has(id)) return;
      pending.delete(id);
      if (pending.size === 0) hold(false);
      reject(err);
    });
  });
}

/** Let the helper go unless a request waits (a later request starts another). */
export function releaseGit(): void {
  if (!child || pending.size > 0) return;
  const c = child;
  child = null;
  if (c.connected) c.disconnect();
}
