/**
 * `command` checks as tasks for verification workers. The verifier (serve) stores one task per
 * command check on the operation (`progress.commandChecks`, by check name) with everything the
 * worker needs already filled in (argv and env with the app, environment and version); a worker
 * (`conveyor verify-worker --name <w>`) claims the tasks assigned to it over HTTP, runs them and
 * reports the result, which is stored on the same task. All of it lives in the store, so a
 * restart of serve goes on where it stopped:
 *
 * - a claim is a lease: while it holds, nobody else gets the task (a claimed-but-unreported
 *   check is not run twice); a dead worker's lease expires and the task is claimable again;
 * - each claim is won once (`claimKey` per task and attempt), even across serve replicas;
 * - a report is accepted once, from the worker holding the task's latest claim; the same report
 *   again is answered as recorded; anything else is refused with one line and changes nothing.
 */
import { ConflictError, InputError, NotAllowedError, NotFoundError } from '../core/errors.js';
import type { Operation } from '../core/operation.js';
import type { Clock, Store } from '../core/ports.js';
import { verifySlice } from './progress-slice.js';
import type { CheckStatus } from './result.js';
import type { CommandCheck } from './schema.js';
import { fill, type TemplateVars } from './template.js';

/** What a worker sends back for a task. */
export interface CommandReport {
  status: CheckStatus;
  /** One line: what ran and how it ended. */
  output: string;
  exitCode: number | null;
  durationMs: number;
  /** The last part of the command's output (stdout and stderr). */
  outputTail: string;
}

/** The part of a task a worker is given. */
export interface CommandWork {
  id: string;
  attempt: number;
  argv: string[];
  env: Record<string, string>;
  timeoutMs: number;
  retries: number;
  intervalMs: number;
  count: number;
  failureLimit: number;
  outputTail: number;
}

export interface CommandTask extends CommandWork {
  operation: string;
  check: string;
  worker: string;
  createdAt: string;
  /** Past this, serve stops waiting for a report and the check fails. */
  deadline: string;
  /** How long one claim holds. */
  leaseMs: number;
  claim?: { worker: string; attempt: number; at: string; until: string };
  result?: CommandReport & { at: string; attempt: number };
}

export type CommandTasks = Record<string, CommandTask>;

export const commandTasksOf = (op: Operation): CommandTasks =>
  (op.progress as { commandChecks?: CommandTasks }).commandChecks ?? {};

/** How long one run of the check may take at most: every measurement, every retry, and the waits between. */
export function budgetMs(check: Pick<CommandCheck, 'count' | 'retries' | 'interval'> & { timeoutMs: number }): number {
  return check.count * (check.retries + 1) * (check.timeoutMs + check.interval);
}

const taskId = (operation: string, check: string) => `${operation}.${check}`;
const TASK_ID = /^([A-Za-z0-9_-]{1,64})\.([a-z0-9-]{1,40})$/;

type TaskStore = Pick<Store, 'saveProgress' | 'audit' | 'operations' | 'findOperation' | 'claimKey'>;

/** Read-modify-write of one operation's tasks, one at a time within this process. */
const queues = new Map<string, Promise<unknown>>();
function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

/** Store the task of a command check on its operation, unless it is there already; returns it. */
export async function enqueueCommand(
  deps: { store: TaskStore; clock: Clock },
  op: Operation,
  check: CommandCheck & { timeoutMs: number },
  vars: TemplateVars,
  worker: string,
  waitForWorkerMs: number,
): Promise<CommandTask> {
  return serially(op.id, async () => {
    const fresh = (await deps.store.findOperation(op.id)) ?? op;
    const tasks = commandTasksOf(fresh);
    const known = tasks[check.name];
    if (known) return known;
    const now = deps.clock.now();
    const budget = budgetMs(check);
    const task: CommandTask = {
      id: taskId(op.id, check.name),
      operation: op.id,
      check: check.name,
      worker,
      attempt: 0,
      argv: check.argv.map((a) => fill(a, vars)),
      env: Object.fromEntries(Object.entries(check.env).map(([k, v]) => [k, fill(v, vars)])),
      timeoutMs: check.timeoutMs,
      retries: check.retries,
      intervalMs: check.interval,
      count: check.count,
      failureLimit: check.failureLimit,
      outputTail: check.outputTail,
      createdAt: now.toISOString(),
      deadline: new Date(now.getTime() + waitForWorkerMs + budget).toISOString(),
      leaseMs: budget + 30_000,
    };
    await deps.store.saveProgress(op.id, verifySlice({ commandChecks: { ...tasks, [check.name]: task } }));
    await deps.store.audit('conveyor', 'verify.command.queued', op.id, { check: check.name, worker });
    return task;
  });
}

const workOf = (t: CommandTask): CommandWork => ({
  id: t.id,
  attempt: t.attempt,
  argv: t.argv,
  env: t.env,
  timeoutMs: t.timeoutMs,
  retries: t.retries,
  intervalMs: t.intervalMs,
  count: t.count,
  failureLimit: t.failureLimit,
  outputTail: t.outputTail,
});

/** The next task for `worker` (unclaimed, or its lease expired), claimed for it; null when none waits. */
export async function claimNext(deps: { store: TaskStore; clock: Clock }, worker: string): Promise<CommandWork | null> {
  const ops = await deps.store.operations({ states: ['verifying'], kinds: ['promote', 'rollback'], limit: 500 });
  for (const op of ops) {
    for (const candidate of Object.values(commandTasksOf(op))) {
      if (candidate.worker !== worker || candidate.result) continue;
      const claimed = await serially(op.id, async () => {
        const fresh = await deps.store.findOperation(op.id);
        if (fresh?.state !== 'verifying') return null;
        const tasks = commandTasksOf(fresh);
        const task = tasks[candidate.check];
        const now = deps.clock.now();
        if (!task || task.result || task.worker !== worker) return null;
        if (now.getTime() >= Date.parse(task.deadline)) return null;
        if (task.claim && now.getTime() < Date.parse(task.claim.until)) return null;
        const attempt = task.attempt + 1;
        // One winner per attempt, whichever serve replica the worker reached.
        if (!(await deps.store.claimKey(`verify-command:${task.id}:${attempt}`))) return null;
        const next: CommandTask = {
          ...task,
          attempt,
          claim: {
            worker,
            attempt,
            at: now.toISOString(),
            until: new Date(now.getTime() + task.leaseMs).toISOString(),
          },
        };
        await deps.store.saveProgress(op.id, verifySlice({ commandChecks: { ...tasks, [task.check]: next } }));
        await deps.store.audit(worker, 'verify.command.claimed', op.id, {
          check: task.check,
          attempt,
          ...(task.claim ? { expired: task.claim.worker } : {}),
        });
        return workOf(next);
      });
      if (claimed) return claimed;
    }
  }
  return null;
}

/** Record a worker's report; `already`: the same report was recorded before. */
export async function recordReport(
  deps: { store: TaskStore; clock: Clock },
  worker: string,
  report: CommandReport & { task: string; attempt: number },
): Promise<{ already: boolean; check: string; operation: string }> {
  const m = TASK_ID.exec(report.task);
  if (!m) throw new InputError('task: not a task id');
  const [, opId, checkName] = m as unknown as [string, string, string];
  return serially(opId, async () => {
    const op = await deps.store.findOperation(opId);
    const tasks = op ? commandTasksOf(op) : {};
    const task = tasks[checkName];
    if (!op || !task) throw new NotFoundError(`no command check task ${report.task}`);
    if (task.worker !== worker && worker !== '*')
      throw new NotAllowedError(`task ${report.task} belongs to worker ${task.worker}, not ${worker}`);
    const base = { check: checkName, operation: opId };
    if (task.result) {
      if (task.result.attempt === report.attempt && task.result.status === report.status)
        return { ...base, already: true };
      throw new ConflictError(`task ${report.task} has its result already (attempt ${task.result.attempt})`);
    }
    if (!task.claim || task.claim.attempt !== report.attempt)
      throw new ConflictError(
        `task ${report.task} is not claimed as attempt ${report.attempt}${task.claim ? ` (its claim is attempt ${task.claim.attempt})` : ''}`,
      );
    if (op.state !== 'verifying')
      throw new ConflictError(`operation ${opId} is ${op.state}: the report comes too late`);
    const result = {
      status: report.status,
      output: report.output,
      exitCode: report.exitCode,
      durationMs: report.durationMs,
      outputTail: report.outputTail,
      attempt: report.attempt,
      at: deps.clock.now().toISOString(),
    };
    await deps.store.saveProgress(opId, verifySlice({ commandChecks: { ...tasks, [checkName]: { ...task, result } } }));
    await deps.store.audit(worker, 'verify.command.reported', opId, {
      check: checkName,
      attempt: report.attempt,
      status: report.status,
      exitCode: report.exitCode,
      output: report.output,
    });
    return { ...base, already: false };
  });
}
