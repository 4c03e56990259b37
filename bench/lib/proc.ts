/**
 * Child processes for the scenarios that measure a whole process (footprint, journal upload):
 * spawn, wait for a line on stdout, read resident memory from /proc/<pid>/status, stop.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcMemory {
  /** Resident set now, bytes. */
  rss: number;
  /** Peak resident set since the process started (VmHWM), bytes. */
  peak: number;
}

/** VmRSS and VmHWM of a live process (Linux), or null when it is gone or /proc is absent. */
export function procMemory(pid: number): ProcMemory | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
    const rss = kb('VmRSS');
    const peak = kb('VmHWM');
    return Number.isFinite(rss) ? { rss, peak } : null;
  } catch {
    return null;
  }
}

export const MiB = 1024 * 1024;

/** The pids of a process's descendants (Linux: parent pids read from /proc/<pid>/stat). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents) if (parent === p) out.push(child), walk(child);
  };
  walk(pid);
  return out;
}

/** Resident memory of a process and all its descendants (the Git helper, its cat-files), bytes. */
export function treeRss(pid: number): { total: number; own: number; children: number } | null {
  const own = procMemory(pid);
  if (!own) return null;
  const kids = descendants(pid).reduce((sum, p) => sum + (procMemory(p)?.rss ?? 0), 0);
  return { total: own.rss + kids, own: own.rss, children: kids };
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far (capped), for error messages. */
  output(): string;
  /** Resolves with the first stdout line matching `pattern` (its match), rejects on exit or timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function spawnChild(command: string, args: string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  let lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let partial = '';
  proc.stdout?.on('data', (d: Buffer) => {
    const text = d.toString();
    out = (out + text).slice(-20_000);
    partial += text;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines = [...lines, ...parts].slice(-500);
    for (const line of parts) for (const l of listeners) l(line);
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', () => resolve(null));
  });
  return {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    exited,
    waitForLine(pattern, timeoutMs) {
      const seen = lines.map((l) => pattern.exec(l)).find(Boolean);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const onLine = (line: string) => {
          const m = pattern.exec(line);
          if (m) done(null, m);
        };
        const done = (err: Error | null, m?: RegExpExecArray) => {
          clearTimeout(timer);
          listeners.delete(onLine);
          if (err) reject(new Error(`${err.message}; output: ${out.slice(-600).trim()}`));
          else resolve(m!);
        };
        listeners.add(onLine);
        void exited.then((code) => done(new Error(`process exited (code ${code}) before printing ${pattern}`)));
      });
    },
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Arguments to run a TypeScript file with this repository's loader: `node --import tsx <file>`. */
export function tsxArgs(file: string, ...args: string[]): string[] {
  return ['--import', 'tsx', file, ...args];
}

/** The environment for Git and Conveyor children: no user Git config, quiet logs. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', LOG_LEVEL: 'silent', ...extra };
}
