/**
 * `conveyor verify-worker --name <w>`: the process that runs `command` checks for targets
 * outside Kubernetes. It asks serve for the next task assigned to it (POST /api/verify/claim),
 * runs it (./command-runner.ts: an argv, never a shell) and reports the result
 * (POST /api/verify/reports), with its token (VERIFY_WORKER_TOKEN, one of serve's
 * VERIFY_WORKER_TOKENS). It keeps no state of its own: serve holds the claim as a lease, so a
 * worker that dies mid-run leaves a task that is handed out again once the lease expires, and a
 * report that could not be delivered is sent again (the same report is recorded once).
 */
import type { Log } from '../core/ports.js';
import { runTask } from './command-runner.js';
import type { CommandReport, CommandWork } from './command-task.js';
import { pause } from './measure.js';

export interface WorkerOptions {
  server: string;
  name: string;
  token: () => string;
  log: Log;
  /** Between two claims that found nothing. */
  pollMs?: number;
  signal: AbortSignal;
}

const REPORT_TRIES = 20;

async function call(o: WorkerOptions, path: string, body: unknown): Promise<Response> {
  return fetch(new URL(path, o.server), {
    method: 'POST',
    headers: { authorization: `Bearer ${o.token()}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.any([o.signal, AbortSignal.timeout(15_000)]),
  });
}

async function errorOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    return (JSON.parse(text) as { error?: string }).error ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

/** Deliver a report; retried on network trouble and 5xx; a 4xx is logged and dropped (serve refused it). */
async function report(o: WorkerOptions, work: CommandWork, r: CommandReport): Promise<void> {
  for (let i = 0; i < REPORT_TRIES && !o.signal.aborted; i++) {
    try {
      const res = await call(o, '/api/verify/reports', { task: work.id, attempt: work.attempt, ...r });
      if (res.ok) {
        await res.body?.cancel();
        o.log.info({ task: work.id, status: r.status }, 'reported a command check');
        return;
      }
      const why = await errorOf(res);
      if (res.status < 500) {
        o.log.warn({ task: work.id, status: res.status, err: why }, 'serve refused the report');
        return;
      }
      o.log.warn({ task: work.id, err: why }, 'could not report; trying again');
    } catch (err) {
      if (o.signal.aborted) return;
      o.log.warn({ task: work.id, err: (err as Error).message }, 'could not report; trying again');
    }
    await pause(Math.min(30_000, 500 * 2 ** i), o.signal).catch(() => undefined);
  }
}

/** Claim, run, report, until the signal aborts. */
export async function runVerifyWorker(o: WorkerOptions): Promise<void> {
  const poll = o.pollMs ?? 2000;
  o.log.info({ worker: o.name, server: new URL(o.server).origin }, 'verification worker started');
  while (!o.signal.aborted) {
    let work: CommandWork | null = null;
    try {
      const res = await call(o, '/api/verify/claim', { worker: o.name });
      if (res.status === 200) work = ((await res.json()) as { task: CommandWork }).task;
      else if (res.status === 204) await res.body?.cancel();
      else o.log.warn({ status: res.status, err: await errorOf(res) }, 'serve refused the claim');
    } catch (err) {
      if (o.signal.aborted) break;
      o.log.warn({ err: (err as Error).message }, 'could not reach serve');
    }
    if (!work) {
      await pause(poll, o.signal).catch(() => undefined);
      continue;
    }
    o.log.info({ task: work.id, attempt: work.attempt, program: work.argv[0] }, 'running a command check');
    const result = await runTask(work, o.signal).catch((err: unknown) => {
      if (o.signal.aborted) return null;
      return {
        status: 'failed' as const,
        output: `the worker could not run it: ${(err as Error).message}`.slice(0, 1000),
        exitCode: null,
        durationMs: 0,
        outputTail: '',
      };
    });
    if (!result || o.signal.aborted) break; // stopped mid-run: the lease expires and the task is handed out again
    await report(o, work, result);
  }
  o.log.info({ worker: o.name }, 'verification worker stopped');
}
