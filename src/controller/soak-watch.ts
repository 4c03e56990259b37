/**
 * Soak windows (`verify.soak`): once an operation is verified, its environment stays under
 * watch for `soak.for`; the leader evaluates the soak checks (http and prometheus) every
 * `soak.interval`. A failure inside the window is posted in the environment's channel and, with
 * `verify.autoRollback`, rolls the promotion back with the check's output as the reason. The
 * window's state lives on the operation (`progress.soak`), so a restart or a new leader goes on
 * where the last one stopped; a later deploy to the environment ends the window.
 */

import { isConveyorError } from '../core/errors.js';
import type { Operation } from '../core/operation.js';
import type { RuntimeWithEngine } from '../core/operation-engine.js';
import { planRollback } from '../core/promotion-plan.js';
import type { Reply } from '../core/reply.js';
import { findApp, findEnv } from '../core/runtime.js';
import { type SoakProgress, soakOf } from '../core/soak.js';
import { SOAK_ROLLBACK_VALUE, soakFailureReply } from '../core/soak-notice.js';
import { runHttpCheck } from '../verify/http-check.js';
import { verifySlice } from '../verify/progress-slice.js';
import { runPrometheusCheck } from '../verify/prometheus-check.js';
import type { CheckResult } from '../verify/result.js';
import type { Check } from '../verify/schema.js';
import { markedBadLine } from './bad-version-mark.js';
import type { AppTarget } from './live-reconciler.js';
import { postToEnv, startAutoRollback } from './verification.js';
import { templateVars } from './verify-checks.js';

const describeOp = (op: Operation) => `${op.kind} ${op.app} → ${op.env} (${op.id})`;

function humanMs(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** The checks a soak window evaluates: the named ones, else every http and prometheus check. */
export function soakChecks(runtime: RuntimeWithEngine, envName: string): Check[] {
  const verify = findEnv(runtime.config, envName)?.verify;
  if (!verify?.soak) return [];
  const named = verify.soak.checks;
  return verify.checks.filter((c) => c.kind !== 'job' && (named ? named.includes(c.name) : true));
}

/** Put a verified operation's environment under watch; returns the line to say, or null. */
export async function beginSoak(runtime: RuntimeWithEngine, op: Operation): Promise<string | null> {
  const soak = findEnv(runtime.config, op.env)?.verify.soak;
  const checks = soakChecks(runtime, op.env);
  if (!soak || !checks.length || soakOf(op)) return null;
  const now = runtime.clock.now();
  const progress: SoakProgress = {
    until: new Date(now.getTime() + soak.for).toISOString(),
    lastAt: now.toISOString(),
    checks: checks.map((c) => c.name),
    runs: 0,
  };
  await runtime.store.saveProgress(op.id, verifySlice({ soak: progress }));
  await runtime.store.audit('conveyor', 'verify.soak.started', op.id, {
    until: progress.until,
    checks: progress.checks,
  });
  return `${op.app} in ${op.env} is under watch until ${progress.until}: ${progress.checks.join(', ')} every ${humanMs(soak.interval)}`;
}

/**
 * The rollback a soak failure's button submits: back to the version before the promotion (named,
 * so a second click finds nothing to do); null when there is none to go to.
 */
async function rollbackCommand(runtime: RuntimeWithEngine, op: Operation): Promise<string | null> {
  const app = findApp(runtime.config, op.app);
  const env = findEnv(runtime.config, op.env);
  if (op.kind !== 'promote' || !app || !env) return null;
  try {
    const plan = await planRollback(runtime, { app, env, emergency: false });
    const to = plan.toTag ?? plan.sourceSha.slice(0, 12);
    const command = `rollback ${op.app} ${op.env} --to ${to}`;
    return SOAK_ROLLBACK_VALUE.test(command) ? command : null;
  } catch {
    return null; // nothing to roll back to (or not plannable now): the text says what to type
  }
}

/** Post a soak failure in the environment's channel, with its button; logged when it cannot be posted. */
async function postSoakFailure(runtime: RuntimeWithEngine, envName: string, reply: Reply): Promise<void> {
  const channel = findEnv(runtime.config, envName)?.channel;
  if (!runtime.notifier || !channel) return;
  const first = reply.blocks[0];
  const text = first?.type === 'text' ? first.text : reply.title;
  await runtime.notifier
    .post({ channel, text, reply })
    .catch((err: unknown) =>
      runtime.log.warn(
        { env: envName, err: isConveyorError(err) ? err.message : 'post failed' },
        'could not post a soak failure',
      ),
    );
}

export class SoakWatcher {
  private timer?: NodeJS.Timeout;
  private running = false;
  private busy = false;
  private abort = new AbortController();

  constructor(
    private readonly runtime: RuntimeWithEngine,
    private readonly targetOf: (app: string, env: string) => AppTarget | undefined,
    private readonly everyMs = 5000,
  ) {}

  start(): void {
    this.running = true;
    this.abort = new AbortController();
    const loop = () => {
      if (!this.running) return;
      void this.tick().finally(() => {
        if (this.running) this.timer = setTimeout(loop, this.everyMs).unref();
      });
    };
    loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.abort.abort(new Error('the soak watcher stopped'));
  }

  /** One look at every environment under watch. */
  async tick(): Promise<void> {
    if (this.busy || !this.running) return;
    this.busy = true;
    try {
      const ops = await this.runtime.store.operations({
        states: ['succeeded'],
        kinds: ['promote', 'rollback'],
        limit: 200,
      });
      for (const op of ops) {
        const soak = soakOf(op);
        if (!soak || soak.ended || !this.running) continue;
        await this.watch(op, soak).catch((err) =>
          this.runtime.log.warn(
            { operation: op.id, err: isConveyorError(err) ? err.message : String(err) },
            'soak check could not run; the next tick tries again',
          ),
        );
      }
    } finally {
      this.busy = false;
    }
  }

  private async end(
    op: Operation,
    soak: SoakProgress,
    ended: SoakProgress['ended'],
    extra: Partial<SoakProgress> = {},
  ) {
    const next = { ...soak, ...extra, ended, endedAt: this.runtime.clock.now().toISOString() };
    await this.runtime.store.saveProgress(op.id, verifySlice({ soak: next }));
    await this.runtime.store.audit('conveyor', `verify.soak.${ended}`, op.id, {
      runs: next.runs,
      ...(next.failure ? { failure: next.failure } : {}),
    });
  }

  private async watch(op: Operation, soak: SoakProgress): Promise<void> {
    const { store, clock } = this.runtime;
    const now = clock.now();
    // A later deploy to the environment ends the window: what runs there is no longer this.
    const later = await store.operations({
      app: op.app,
      env: op.env,
      kinds: ['promote', 'rollback'],
      states: ['applying', 'applied', 'verifying', 'succeeded', 'failed'],
      limit: 5,
    });
    if (later.some((o) => o.id !== op.id && o.createdAt > op.createdAt && (o.progress.newSha || o.progress.tag)))
      return this.end(op, soak, 'superseded');
    if (now.getTime() >= new Date(soak.until).getTime()) {
      await this.end(op, soak, 'passed');
      await postToEnv(
        this.runtime,
        op.env,
        `The soak window of ${describeOp(op)} ended: ${soak.runs} evaluation${soak.runs === 1 ? '' : 's'}, no check failed`,
        op.message,
      );
      return;
    }
    const interval = findEnv(this.runtime.config, op.env)?.verify.soak?.interval ?? 300_000;
    if (now.getTime() < new Date(soak.lastAt).getTime() + interval) return;
    const target = this.targetOf(op.app, op.env);
    if (!target) return;
    const vars = await templateVars(this.runtime, op, target);
    const checks = soakChecks(this.runtime, op.env).filter((c) => soak.checks.includes(c.name));
    const runs = soak.runs + 1;
    for (const check of checks) {
      const result: CheckResult =
        check.kind === 'http'
          ? await runHttpCheck(check, vars, this.abort.signal)
          : check.kind === 'prometheus'
            ? await runPrometheusCheck(check, vars, this.abort.signal)
            : { status: 'inconclusive', output: 'job checks are not evaluated in a soak window' };
      await store.audit('conveyor', 'verify.soak', op.id, {
        check: check.name,
        kind: check.kind,
        status: result.status,
        output: result.output,
      });
      if (result.status !== 'failed') continue;
      const failure = `check ${check.name} (${check.kind}) failed: ${result.output}`;
      await this.end(op, soak, 'failed', { runs, failure, lastAt: now.toISOString() });
      const rollback = await startAutoRollback(
        this.runtime,
        op,
        `automatic rollback: ${op.id}: ${failure} (soak window)`,
        `check ${check.name} failed during the soak window`,
      );
      const bad = await markedBadLine(this.runtime, op, `${failure} (soak window)`);
      const button = rollback ? null : await rollbackCommand(this.runtime, op);
      const lines = [
        rollback ??
          (button
            ? `\`${button}\` (or the button) rolls it back, as whoever asks, through ${op.env}'s gate`
            : op.kind === 'promote'
              ? `\`rollback ${op.app} ${op.env}\` rolls it back`
              : ''),
        bad,
      ].filter(Boolean);
      await postSoakFailure(
        this.runtime,
        op.env,
        soakFailureReply({
          title: `${op.app} in ${op.env}: ${failure}, inside the soak window of ${describeOp(op)} (until ${soak.until})`,
          lines,
          rollback: button,
        }),
      );
      return;
    }
    await store.saveProgress(op.id, verifySlice({ soak: { ...soak, runs, lastAt: now.toISOString() } }));
  }
}
