/**
 * Git processes run from a small long-lived helper process, never forked from the server:
 * the cost of a fork grows with the forking process's memory (a few ms from a small process,
 * tens of ms from a server holding PGlite), and the spawn blocks the event loop. The helper is
 * a plain `node -e` script (no loader, no dependencies) that the server talks to over an IPC
 * channel. It also keeps one `git cat-file --batch-command` per repository recently read, so
 * resolving a ref or an object, or reading a file, costs no process at all.
 *
 * The helper starts on first use, holds the server's event loop only while requests are in
 * flight, and exits when its parent goes away (IPC disconnect). The parent lets it go after
 * `idleMs` without a request (20 s; `CONVEYOR_GIT_HELPER_IDLE_MS`), so an idle server holds no
 * helper and no cat-file processes; the next request starts a new one. The parent decides, so
 * no request is ever sent to a helper on its way out. If it dies, its pending requests fail
 * and the next request starts a new one. Git's environment is the server's at the time of
 * each request (its `GIT_*` variables are sent along).
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How long a Git process may run before it is stopped, and what to call it in the message. */
export interface GitTimeLimit {
  timeoutMs: number;
  what: string;
}

export interface CatResult {
  oid: string;
  type: string;
  size: number;
  /** Only for `contents`. */
  content?: string;
}

/** The helper's own source: CommonJS, run with `node -e`. */
const HELPER_SOURCE = String.raw`
'use strict';
const { spawn } = require('node:child_process');
const MAX_RUNNING = 8, MAX_CATS = 16, CAT_IDLE_MS = 20000;
let running = 0;
const waiting = [];
const reply = (m) => { try { process.send(m); } catch { process.exit(0); } };
function envFor(extra) { return extra ? Object.assign({}, process.env, extra) : process.env; }
function run(m) {
  running++;
  let done = false, timer;
  const out = [], err = [];
  const finish = (code, error) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    running--;
    reply({ id: m.id, code, stdout: Buffer.concat(out).toString('utf8'), stderr: error || Buffer.concat(err).toString('utf8') });
    const next = waiting.shift();
    if (next) run(next);
  };
  let p;
  // A command with a time limit runs in a process group of its own, so that stopping it stops
  // what Git started too (git-remote-http, ssh), which would otherwise wait on the server.
  const timed = m.timeoutMs > 0;
  try {
    p = spawn('git', m.args, { cwd: m.cwd, env: envFor(m.env), detached: timed, stdio: [m.input != null ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (e) { return finish(-1, String(e && e.message)); }
  if (timed) { groups.add(p); p.on('close', () => groups.delete(p)); }
  p.stdout.on('data', (d) => out.push(d));
  p.stderr.on('data', (d) => err.push(d));
  p.on('error', (e) => finish(-1, String(e && e.message)));
  p.on('close', (code, signal) => finish(code == null ? -1 : code, code == null ? 'git killed by ' + signal : undefined));
  if (m.input != null) { p.stdin.on('error', () => {}); p.stdin.end(m.input); }
  if (timed) {
    timer = setTimeout(() => {
      const s = m.timeoutMs / 1000;
      finish(-1, 'git ' + (m.what || 'command') + ' timed out after ' + (s < 10 ? Math.round(s * 10) / 10 : Math.round(s)) + ' s (stopped)');
      stopGroup(p, 'SIGTERM');
      setTimeout(() => stopGroup(p, 'SIGKILL'), 2000).unref();
    }, m.timeoutMs);
  }
}
const groups = new Set();
function stopGroup(p, signal) { try { process.kill(-p.pid, signal); } catch {} }
const cats = new Map();
function closeCat(cwd, c) { if (cats.get(cwd) === c) cats.delete(cwd); clearTimeout(c.timer); try { c.proc.stdin.end(); } catch {} }
function catFor(cwd, env) {
  let c = cats.get(cwd);
  if (c) { cats.delete(cwd); cats.set(cwd, c); return c; }
  if (cats.size >= MAX_CATS) {
    for (const [k, v] of cats) { if (v.pending.length === 0) { closeCat(k, v); break; } }
  }
  const proc = spawn('git', ['cat-file', '--batch-command'], { cwd, env: envFor(env), stdio: ['pipe', 'pipe', 'pipe'] });
  c = { proc, pending: [], buf: Buffer.alloc(0), timer: undefined };
  const cc = c;
  const fail = (why) => {
    if (cats.get(cwd) === cc) cats.delete(cwd);
    clearTimeout(cc.timer);
    for (const r of cc.pending.splice(0)) reply({ id: r.id, error: why });
  };
  proc.on('error', (e) => fail(String(e && e.message)));
  proc.on('close', () => fail('git cat-file exited'));
  proc.stdin.on('error', () => {});
  proc.stderr.on('data', () => {});
  proc.stdout.on('data', (d) => { cc.buf = cc.buf.length ? Buffer.concat([cc.buf, d]) : d; drain(cc); });
  cats.set(cwd, c);
  return c;
}
function drain(c) {
  for (;;) {
    const r = c.pending[0];
    if (!r) return;
    const nl = c.buf.indexOf(10);
    if (nl < 0) return;
    const line = c.buf.subarray(0, nl).toString('utf8');
    const parts = line.split(' ');
    if (parts.length !== 3 || !/^[0-9a-f]{40,64}$/.test(parts[0])) {
      c.buf = c.buf.subarray(nl + 1);
      c.pending.shift();
      reply({ id: r.id, missing: true });
      continue;
    }
    const size = Number(parts[2]);
    if (r.cmd === 'contents') {
      if (c.buf.length < nl + 1 + size + 1) return;
      const content = c.buf.subarray(nl + 1, nl + 1 + size).toString('utf8');
      c.buf = c.buf.subarray(nl + 1 + size + 1);
      c.pending.shift();
      reply({ id: r.id, oid: parts[0], type: parts[1], size, content });
    } else {
      c.buf = c.buf.subarray(nl + 1);
      c.pending.shift();
      reply({ id: r.id, oid: parts[0], type: parts[1], size });
    }
  }
}
function cat(m) {
  const c = catFor(m.cwd, m.env);
  clearTimeout(c.timer);
  c.timer = setTimeout(() => { if (c.pending.length === 0) closeCat(m.cwd, c); }, CAT_IDLE_MS);
  c.pending.push(m);
  c.proc.stdin.write(m.cmd + ' ' + m.spec + '\n');
}
process.on('message', (m) => {
  if (m.op === 'cat') return cat(m);
  if (m.op === 'forget') { const c = cats.get(m.cwd); if (c && c.pending.length === 0) closeCat(m.cwd, c); return; }
  if (running < MAX_RUNNING) run(m); else waiting.push(m);
});
// The server is gone: its remote commands, in groups of their own, go with the helper.
process.on('disconnect', () => { for (const p of groups) stopGroup(p, 'SIGTERM'); process.exit(0); });
`;

type Pending = { resolve(v: unknown): void; reject(e: Error): void; child: ChildProcess };

const DEFAULT_IDLE_MS = 20_000;

function idleMsFrom(env: NodeJS.ProcessEnv): number {
  const n = Number(env.CONVEYOR_GIT_HELPER_IDLE_MS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_IDLE_MS;
}

let envCache: { at: number; env: Record<string, string> } | undefined;
/**
 * Which of the server's environment variables reach Git (the rest is the helper's own), read
 * again at most once a second: walking `process.env` (a call into C++ per variable) on
 * every Git call cost more than the call's own message to the helper.
 */
function gitEnv(): Record<string, string> {
  const now = Date.now();
  if (envCache && now - envCache.at < 1000) return envCache.env;
  const env: Record<string, string> = {};
  // Names first, then only the values sent: reading every value of process.env costs more.
  for (const k of Object.keys(process.env)) {
    if (!/^(GIT_|SSH_|HOME$|PATH$)/.test(k)) continue;
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  envCache = { at: now, env };
  return env;
}

export class GitHelper {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs = idleMsFrom(process.env)) {}

  /** The helper of this process. */
  static shared(): GitHelper {
    sharedHelper ??= new GitHelper();
    return sharedHelper;
  }

  /** The helper's pid (started if need be), for measurements. */
  pid(): number | undefined {
    return this.ensure().pid;
  }

  /**
   * Run `git <args>` in `cwd`; the exit code is returned, never thrown. With `timeoutMs`, Git is
   * stopped at that age and the result is exit code -1 with "git <what> timed out after N s".
   */
  exec(args: string[], cwd: string, input?: string, limit?: GitTimeLimit): Promise<GitResult> {
    return this.send({
      op: 'run',
      args,
      cwd,
      input,
      env: gitEnv(),
      ...(limit ? { timeoutMs: limit.timeoutMs, what: limit.what } : {}),
    }) as Promise<GitResult>;
  }

  /** Run `git <args>` in `cwd`; a non-zero exit rejects with Git's stderr (then stdout) as the message. */
  async run(args: string[], cwd: string, input?: string, limit?: GitTimeLimit): Promise<string> {
    const res = await this.exec(args, cwd, input, limit);
    if (res.code !== 0) {
      const text = [res.stderr.trim(), res.stdout.trim()].filter(Boolean).join('\n');
      throw Object.assign(new Error(text || `git ${args[0]} exited with code ${res.code}`), {
        exitCode: res.code,
        stdout: res.stdout,
      });
    }
    return res.stdout;
  }

  /**
   * `info <spec>` or `contents <spec>` through the repository's `git cat-file --batch-command`;
   * null when the object or ref does not exist. `spec` must hold no newline.
   */
  async cat(cmd: 'info' | 'contents', spec: string, cwd: string): Promise<CatResult | null> {
    if (/[\n\r]/.test(spec)) throw new Error('a cat-file spec cannot hold a newline');
    const res = (await this.send({ op: 'cat', cmd, spec, cwd, env: gitEnv() })) as CatResult & { missing?: boolean };
    return res.missing ? null : res;
  }

  /** Let the helper go now unless a request waits (it exits; a later request starts another). */
  release(): void {
    clearTimeout(this.idleTimer);
    this.letGo();
  }

  /** Close the repository's cat-file process (its folder is about to go, or be replaced). */
  forget(cwd: string): void {
    if (this.child?.connected) this.child.send({ op: 'forget', cwd });
  }

  private send(message: Record<string, unknown>): Promise<unknown> {
    const child = this.ensure();
    const id = this.nextId++;
    clearTimeout(this.idleTimer);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, child });
      if (this.pending.size === 1) this.hold(true);
      child.send({ ...message, id }, (err) => {
        if (err) this.settle(id, { error: `git helper: ${err.message}` });
      });
    });
  }

  private settle(id: number, message: Record<string, unknown>): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0) {
      this.hold(false);
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.letGo(), this.idleMs).unref();
    }
    if (typeof message.error === 'string') p.reject(new Error(message.error));
    else p.resolve(message);
  }

  /** Idle: disconnect the helper (it exits, and its cat-file processes with it). */
  private letGo(): void {
    const child = this.child;
    if (!child || this.pending.size > 0) return;
    this.child = null;
    if (child.connected) child.disconnect();
  }

  /** Keep the event loop alive only while a request waits for its answer. */
  private hold(on: boolean): void {
    const channel = this.child?.channel as { ref?(): void; unref?(): void } | undefined;
    if (on) channel?.ref?.();
    else channel?.unref?.();
  }

  private ensure(): ChildProcess {
    if (this.child?.connected) return this.child;
    const child = spawn(process.execPath, ['--max-old-space-size=64', '-e', HELPER_SOURCE], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: process.env,
    });
    child.on('message', (m: Record<string, unknown>) => this.settle(m.id as number, m));
    const gone = () => {
      if (this.child === child) this.child = null;
      for (const [id, p] of [...this.pending]) {
        if (p.child === child) this.settle(id, { error: 'git helper: the helper process exited' });
      }
    };
    child.once('exit', gone);
    child.once('error', gone);
    child.once('disconnect', gone);
    child.unref();
    this.child = child;
    this.hold(this.pending.size > 0);
    return child;
  }
}

let sharedHelper: GitHelper | undefined;
