/**
 * What a verification worker does with one task: run its argv without a shell (the program and
 * each argument as given), with only a minimal environment (PATH, HOME, LANG, TZ) plus the
 * task's own variables, so the worker's token never reaches the command. Each try is bounded by
 * the task's timeout (then killed); tries and measurements follow the same rules as the other
 * kinds (retries, interval, count, failure limit). The output kept is the last part of stdout
 * and stderr together.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import type { CommandReport, CommandWork } from './command-task.js';
import { measure } from './measure.js';
import type { Measurement } from './result.js';

interface Run {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  error?: string;
  tail: string;
  ms: number;
}

const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'];

export function runArgv(work: CommandWork, signal?: AbortSignal): Promise<Run> {
  const started = Date.now();
  const env: Record<string, string> = {};
  for (const k of PASSED_ENV) if (process.env[k]) env[k] = process.env[k]!;
  Object.assign(env, work.env);
  return new Promise((resolve) => {
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-work.outputTail);
    };
    let timedOut = false;
    let settled = false;
    const done = (r: Omit<Run, 'tail' | 'ms' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ ...r, timedOut, tail, ms: Date.now() - started });
    };
    const [program, ...args] = work.argv;
    const child = spawn(program!, args, { shell: false, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, work.timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) =>
      done({ exitCode: null, signal: null, error: err.code ?? err.message }),
    );
    child.on('close', (code, sig) => done({ exitCode: code, signal: sig }));
  });
}

function describe(work: CommandWork, r: Run): string {
  const name = basename(work.argv[0] ?? '');
  if (r.error) return `${name} could not run: ${r.error}`;
  if (r.timedOut) return `${name} timed out after ${work.timeoutMs} ms`;
  if (r.exitCode === null) return `${name} was killed by ${r.signal}`;
  const last = r.tail.trimEnd().split('\n').at(-1)?.slice(0, 200) ?? '';
  return `${name} exited ${r.exitCode} in ${r.ms} ms${r.exitCode !== 0 && last ? `: ${last}` : ''}`;
}

/** Run a task to its verdict (what the worker reports). */
export async function runTask(work: CommandWork, signal?: AbortSignal): Promise<CommandReport> {
  const started = Date.now();
  let last: Run | undefined;
  const result = await measure(
    async (): Promise<Measurement> => {
      last = await runArgv(work, signal);
      return { status: last.exitCode === 0 ? 'passed' : 'failed', output: describe(work, last) };
    },
    (m) => m.status === 'failed',
    {
      count: work.count,
      failureLimit: work.failureLimit,
      retries: work.retries,
      interval: work.intervalMs,
      signal,
    },
  );
  return {
    status: result.status,
    output: result.output.slice(0, 1000),
    exitCode: last?.exitCode ?? null,
    durationMs: Date.now() - started,
    outputTail: last?.tail ?? '',
  };
}
