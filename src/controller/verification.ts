/**
 * Verification: an operation in `verifying` succeeds when its rollout is healthy (the cluster
 * runs what Git asks for) and the environment's checks (`verify.checks`, ./verify-checks.ts)
 * pass; it fails when that rollout fails or does not get healthy within the environment's
 * `verify.timeout`, or when a check fails or cannot decide. A failed promotion in an
 * environment with `verify.autoRollback` starts an emergency rollback itself and says why (not
 * for an inconclusive check: nothing says the version is bad). Each verdict is claimed once in
 * the store, so two replicas never both report or roll back.
 */

import { hostFor, syncHost } from '../core/env-state.js';
import { isConveyorError } from '../core/errors.js';
import type { Operation } from '../core/operation.js';
import type { RuntimeWithEngine } from '../core/operation-engine.js';
import type { MessageRef } from '../core/ports.js';
import { planRollback } from '../core/promotion-plan.js';
import { findApp, findEnv, type Runtime } from '../core/runtime.js';
import type { JobsFor } from '../verify/jobs.js';
import { applierVerdict } from './applier-verdict.js';
import { markedBadLine } from './bad-version-mark.js';
import { type AggregateLive, type AppTarget, type LiveReconciler, whereText } from './live-reconciler.js';
import { type ChecksOutcome, checksOf, checksProgressOf, runChecks } from './verify-checks.js';

export interface VerifierOptions {
  /** How often the store is asked for operations in `verifying` (other processes start them). */
  checkEveryMs?: number;
  /** The Jobs of a cluster, for `job` checks. */
  jobsFor?: JobsFor;
  /** After a verified operation: what to add to the verdict (a soak window begins). */
  afterVerified?: (op: Operation) => Promise<string | null>;
}

/** Why a verdict is what it is: the rollout, or a check after it. */
type Cause = { by: 'rollout' } | { by: 'checks'; outcome: ChecksOutcome };

/** Post to an environment's channel; null when it has none or nothing can post. */
export async function postToEnv(
  runtime: Runtime,
  envName: string,
  text: string,
  thread?: MessageRef | null,
): Promise<MessageRef | null> {
  const channel = findEnv(runtime.config, envName)?.channel;
  if (!runtime.notifier || !channel) return null;
  try {
    return await runtime.notifier.post({ channel, text, ...(thread ? { thread } : {}) });
  } catch (err) {
    runtime.log.warn(
      { env: envName, err: isConveyorError(err) ? err.message : 'post failed' },
      'could not post a controller message',
    );
    return null;
  }
}

const describeOp = (op: Operation) => `${op.kind} ${op.app} → ${op.env} (${op.id})`;

export class Verifier {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly prepared = new Set<string>();
  private readonly preparing = new Map<string, Promise<void>>();
  /** Checks running, per operation. */
  private readonly sessions = new Map<string, AbortController>();
  private sweepTimer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly runtime: RuntimeWithEngine,
    private readonly reconciler: LiveReconciler,
    private readonly options: VerifierOptions = {},
  ) {}

  start(): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      void this.sweep().finally(() => {
        if (this.running) this.sweepTimer = setTimeout(loop, this.options.checkEveryMs ?? 5000).unref();
      });
    };
    loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.sweepTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.prepared.clear();
    for (const s of this.sessions.values()) s.abort(new Error('the verifier stopped'));
    this.sessions.clear();
  }

  async sweep(): Promise<void> {
    const ops = await this.runtime.store.operations({
      states: ['verifying'],
      kinds: ['promote', 'rollback'],
      limit: 500,
    });
    for (const op of ops)
      await this.check(op.id).catch((err) =>
        this.runtime.log.warn({ operation: op.id, err: (err as Error).message }, 'verification check failed'),
      );
  }

  /** Look at one operation now: refresh what Git asks for once, then judge or arm its deadline. */
  async check(id: string, attempt = 0): Promise<void> {
    if (!this.running) return;
    const op = await this.runtime.store.findOperation(id);
    if (op?.state === 'applied' && attempt < 50) {
      // Asked just before the engine stored `verifying`: look again in a moment.
      setTimeout(() => void this.check(id, attempt + 1), 20).unref();
      return;
    }
    if (op?.state !== 'verifying') return;
    const target = this.reconciler.targets.find((t) => t.app === op.app && t.env === op.env);
    if (!target) return;
    if (!this.prepared.has(op.id)) {
      // Once per operation: fetch, and read what Git now asks the cluster to run.
      let preparing = this.preparing.get(op.id);
      if (!preparing) {
        const app = findApp(this.runtime.config, op.app);
        preparing = (async () => {
          if (app) await syncHost(hostFor(this.runtime, app), 0, { fetch: true });
          await this.reconciler.refreshDesired(op.app);
          this.prepared.add(op.id);
        })().finally(() => this.preparing.delete(op.id));
        this.preparing.set(op.id, preparing);
      }
      await preparing;
    }
    await this.armDeadline(op);
    // The reconcile stores the state and calls back into evaluate().
    await this.reconciler.reconcile(op.app, op.env);
  }

  private async armDeadline(op: Operation): Promise<void> {
    // Once the checks have started, the rollout was healthy: the checks bound themselves.
    if (this.timers.has(op.id) || checksProgressOf(op)) return;
    const timeout = findEnv(this.runtime.config, op.env)?.verify.timeout ?? 600_000;
    const [entered] = await this.runtime.store.auditLog({
      operationId: op.id,
      action: 'operation.verifying',
      limit: 1,
    });
    const since = new Date(entered?.at ?? op.updatedAt).getTime();
    const left = since + timeout - this.runtime.clock.now().getTime();
    const expire = async () => {
      this.timers.delete(op.id);
      const now = await this.runtime.store.findOperation(op.id);
      if (now?.state !== 'verifying' || !this.running || this.sessions.has(op.id) || checksProgressOf(now)) return;
      const target = this.reconciler.targets.find((t) => t.app === now.app && t.env === now.env);
      const live = target?.applier ? this.reconciler.liveOf(now.app, now.env) : null;
      const waiting = live && target ? await applierVerdict(this.runtime, now, target, live.applierObject) : null;
      const last = waiting ? ` (last: ${waiting.detail})` : '';
      await this.settle(now, false, `the rollout did not become healthy within ${Math.round(timeout / 1000)}s${last}`);
    };
    if (!this.running) return; // stopped while this check read the store
    this.timers.set(op.id, setTimeout(() => void expire().catch(() => undefined), Math.max(0, left)).unref());
  }

  /** Judge the operations verifying on this app × env against what the cluster shows. */
  async evaluate(target: AppTarget, live: AggregateLive, ops: Operation[]): Promise<void> {
    for (const op of ops) {
      if (!this.prepared.has(op.id)) {
        // Not looked at yet (started by another process): refresh Git first, then come back.
        void this.check(op.id);
        continue;
      }
      // With an applier, it decides whether our commit is deployed; the workloads must be healthy too.
      const applier = target.applier ? await applierVerdict(this.runtime, op, target, live.applierObject) : null;
      const detail = applier ? `${applier.detail}; ${live.rolloutDetail}` : live.detail;
      if (applier?.state === 'failed') await this.settle(op, false, applier.detail, target);
      else if (live.rollout === 'healthy' && (!applier || applier.state === 'deployed')) {
        if (checksOf(this.runtime, op.env).length) this.startChecks(op, target, detail);
        else await this.settle(op, true, detail, target);
      } else if (live.rollout === 'failed' && live.matchesDesired)
        await this.settle(op, false, live.rolloutDetail, target);
    }
  }

  /** The rollout is healthy: run the environment's checks (once at a time), then judge. */
  private startChecks(op: Operation, target: AppTarget, rolloutDetail: string): void {
    if (this.sessions.has(op.id) || !this.running) return;
    const abort = new AbortController();
    this.sessions.set(op.id, abort);
    clearTimeout(this.timers.get(op.id));
    this.timers.delete(op.id);
    const say = async (text: string) => {
      const now = await this.runtime.store.findOperation(op.id);
      await postToEnv(this.runtime, op.env, text, now?.message ?? op.message);
    };
    void (async () => {
      const fresh = (await this.runtime.store.findOperation(op.id)) ?? op;
      if (fresh.state !== 'verifying') return;
      if (!checksProgressOf(fresh))
        await say(`Rollout of ${describeOp(op)} is healthy: ${whereText(target)}: ${rolloutDetail}`);
      const outcome = await runChecks(
        { runtime: this.runtime, jobsFor: this.options.jobsFor, say },
        fresh,
        target,
        abort.signal,
      );
      if (abort.signal.aborted) return;
      this.sessions.delete(op.id);
      const detail =
        outcome.status === 'passed'
          ? `${outcome.passed} check${outcome.passed === 1 ? '' : 's'} passed`
          : `check ${outcome.check!.name} (${outcome.check!.kind}) ${outcome.status === 'failed' ? 'failed' : 'was inconclusive'}: ${outcome.check!.output}`;
      await this.settle(fresh, outcome.status === 'passed', detail, target, { by: 'checks', outcome });
    })()
      .catch((err) => {
        if (abort.signal.aborted) return;
        this.runtime.log.warn(
          { operation: op.id, err: isConveyorError(err) ? err.message : String(err) },
          'verification checks stopped; the next sweep resumes them',
        );
      })
      .finally(() => {
        if (this.sessions.get(op.id) === abort) this.sessions.delete(op.id);
      });
  }

  private async settle(
    op: Operation,
    ok: boolean,
    detail: string,
    target?: AppTarget,
    cause: Cause = { by: 'rollout' },
  ): Promise<void> {
    const { store, engine } = this.runtime;
    if (!this.running) return;
    if (!(await store.claimKey(`controller:verdict:${op.id}`))) return;
    clearTimeout(this.timers.get(op.id));
    this.timers.delete(op.id);
    const session = this.sessions.get(op.id);
    if (session && cause.by === 'rollout') session.abort(new Error('the rollout decided first'));
    this.sessions.delete(op.id);
    const done = await engine.finishVerification(op.id, ok, detail);
    const where = whereText(target ?? this.reconciler.targets.find((t) => t.app === op.app && t.env === op.env)!);
    const lines = [
      cause.by === 'checks'
        ? `${ok ? 'Verified' : 'Verification failed'}: ${describeOp(op)}: ${detail}`
        : ok
          ? `Rollout of ${describeOp(op)} is healthy: ${where}: ${detail}`
          : `Rollout of ${describeOp(op)} failed: ${where}: ${detail}`,
    ];
    if (ok && done.state === 'succeeded' && this.options.afterVerified) {
      const more = await this.options.afterVerified(done).catch((err: unknown) => {
        this.runtime.log.warn({ operation: op.id, err: String(err) }, 'could not begin the soak window');
        return null;
      });
      if (more) lines.push(more);
    }
    if (!ok && done.state === 'failed') {
      const inconclusive = cause.by === 'checks' && cause.outcome.status === 'inconclusive';
      const rollback = inconclusive
        ? `not rolled back automatically: an inconclusive check does not say the version is bad${op.kind === 'promote' ? ` (\`rollback ${op.app} ${op.env}\` rolls it back)` : ''}`
        : await startAutoRollback(
            this.runtime,
            done,
            cause.by === 'checks'
              ? `automatic rollback: ${op.id}: ${detail}`
              : `automatic rollback: the rollout of ${op.id} failed (${detail})`,
            cause.by === 'checks' && cause.outcome.check
              ? `check ${cause.outcome.check.name} failed`
              : 'the rollout failed',
          );
      if (rollback) lines.push(rollback);
      const bad = inconclusive ? '' : await markedBadLine(this.runtime, done, detail);
      if (bad) lines.push(bad);
    }
    await store.saveKeyReply(`controller:verdict:${op.id}`, { ok, state: done.state });
    await postToEnv(this.runtime, op.env, lines.join('\n'), done.message);
  }
}

/**
 * Start an emergency rollback of a promotion when its environment asks for it
 * (`verify.autoRollback`); returns what to say, or null when it does not ask.
 * `reason` goes on the rollback's plan; `because` ends the sentence said.
 */
export async function startAutoRollback(
  runtime: RuntimeWithEngine,
  op: Operation,
  reason: string,
  because: string,
): Promise<string | null> {
  const env = findEnv(runtime.config, op.env);
  const app = findApp(runtime.config, op.app);
  if (!env?.verify.autoRollback || !app || op.kind !== 'promote') return null;
  try {
    const plan = await planRollback(runtime, { app, env, emergency: true });
    plan.reason = reason;
    const rollback = await runtime.engine.request({
      kind: 'rollback',
      app: app.name,
      env: env.name,
      plan,
      requester: 'conveyor',
      idempotencyKey: `controller:autorollback:${op.id}`,
      emergency: true,
      source: 'controller',
    });
    return `${env.name} rolls back automatically to ${plan.toTag ?? plan.sourceSha.slice(0, 8)} (${rollback.id}, ${rollback.state}) because ${because}`;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    runtime.log.warn({ operation: op.id, err: message }, 'automatic rollback not started');
    return `automatic rollback not started: ${message}`;
  }
}
