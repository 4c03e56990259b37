/**
 * A `command` check as serve runs it: queue the task for its worker (./command-task.ts) and wait
 * for the report, reading the operation again every little while. The result is the worker's;
 * no report by the task's deadline (no worker running, or none allowed to claim it) fails the
 * check: an unreachable runner never passes.
 */
import type { Operation } from '../core/operation.js';
import type { Clock, Store } from '../core/ports.js';
import { commandTasksOf, enqueueCommand } from './command-task.js';
import { pause } from './measure.js';
import type { CheckResult } from './result.js';
import { type CommandCheck, timeoutOf } from './schema.js';
import type { TemplateVars } from './template.js';

export interface CommandCheckDeps {
  store: Pick<Store, 'saveProgress' | 'audit' | 'operations' | 'findOperation' | 'claimKey'>;
  clock: Clock;
  /** The environment's `verify.worker` (a check may name its own). */
  worker?: string;
  /** How long a task may wait for its worker to claim it (the environment's `verify.timeout`). */
  waitForWorkerMs: number;
  /** How often the operation is read again for the report. */
  pollMs?: number;
}

export async function runCommandCheck(
  deps: CommandCheckDeps,
  op: Operation,
  check: CommandCheck,
  vars: TemplateVars,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const worker = check.worker ?? deps.worker;
  if (!worker) return { status: 'failed', output: `command check ${check.name} has no worker to run it` };
  const task = await enqueueCommand(
    deps,
    op,
    { ...check, timeoutMs: timeoutOf(check) },
    vars,
    worker,
    deps.waitForWorkerMs,
  );
  for (;;) {
    const now = await deps.store.findOperation(op.id);
    const result = now ? commandTasksOf(now)[check.name]?.result : undefined;
    if (result) {
      const tail =
        result.status === 'passed' || !result.outputTail.trim() ? '' : `\nlast output:\n${result.outputTail.trimEnd()}`;
      return { status: result.status, output: `${result.output} (worker ${worker})${tail}` };
    }
    if (deps.clock.now().getTime() >= Date.parse(task.deadline)) {
      const claimed = now ? commandTasksOf(now)[check.name]?.claim : undefined;
      return {
        status: 'failed',
        output: claimed
          ? `worker ${claimed.worker} claimed it (attempt ${claimed.attempt}) but sent no result by ${task.deadline}`
          : `no verification worker named ${worker} claimed it by ${task.deadline}: is \`conveyor verify-worker --name ${worker}\` running, with a token in serve's VERIFY_WORKER_TOKENS?`,
      };
    }
    await pause(deps.pollMs ?? 500, signal);
  }
}
