/**
 * Runs operations: request (lock, gate), approve/reject, apply (a list of small idempotent
 * steps whose progress is stored), verify, and a sweep that resumes interrupted operations
 * and ends stuck ones. Every transition is stored and audited before it is announced.
 */
import { approvalSubject, quorum, withWaitingFor } from './approval-gate.js';
import { webLinksFor } from './commit-links.js';
import type { EngineDeps } from './engine/deps.js';
import { handlerFor } from './engine/index.js';
import type { EngineMoves } from './engine/state-handler.js';
import { ConflictError, isConveyorError } from './errors.js';
import { openRolesFor } from './gates/approver.js';
import { gateContext, gateOf } from './gates/context.js';
import { expiredWhileWaiting, lockedMessage } from './gates/env-lock.js';
import type { GateContext, GatePhase } from './gates/gate-rule.js';
import { requiredRoles } from './gates/roles.js';
import { enforceGates, runGates } from './gates/run-gates.js';
import {
  FINAL_STATES,
  isEmergency,
  isGitOperation,
  isGitPlan,
  type Operation,
  type OperationKind,
  type OperationRequest,
  type OperationState,
  type ProgressPatch,
  withProgress,
} from './operation.js';
import { renderOperation } from './operation-view.js';
import type { Engine } from './ports.js';
import type { Reply } from './reply.js';
import { findEnv, type Runtime } from './runtime.js';
import { builtInRunners } from './steps/index.js';
import type { KindOutcome, KindRunner } from './steps/kind-runner.js';
import { nextAfterApplied, noVerification, type VerificationPolicy } from './steps/verification.js';

/** What the engine is built with (src/core/engine/deps.ts, re-exported for its callers). */
export type { EngineDeps };

/** The runtime as the composition root and the controller hold it: the engine itself, not its port. */
export type RuntimeWithEngine = Runtime & { engine: OperationEngine };

/** What asks for an operation (defined beside Operation, re-exported here for its callers). */
export type { OperationRequest } from './operation.js';

/** Steps of kinds other than Git (journal pointers) are plugged in by their module. */
export type { KindRunner };

const CLAIM_MS = 60_000;

export class OperationEngine implements Engine {
  /** The step registry: the runner that applies each kind (Git kinds built in, see ./steps/). */
  readonly runners = builtInRunners();
  private verification: VerificationPolicy;
  private sweeper: NodeJS.Timeout | null = null;
  /** Operations stored by a request of this process that has not handed them to `advance` yet. */
  private readonly requesting = new Set<string>();
  private inFlight = new Set<Promise<unknown>>();
  /** Per operation being advanced here: the row its last move wrote (null: none yet in this step). */
  private readonly moved = new Map<string, Operation | null>();

  /** What the state handlers (./engine/) may use of the engine. */
  private readonly moves: EngineMoves;

  constructor(readonly deps: EngineDeps) {
    this.verification = deps.needsVerification ?? noVerification;
    this.moves = {
      deps,
      move: (op, to, extra) => this.move(op, to, extra),
      required: (op) => this.required(op),
      gateContext: (phase, op, extra) => this.opGateContext(phase, op, extra),
      apply: (op) => this.apply(op),
      afterApplied: (op) => nextAfterApplied(op, this.verification),
    };
  }

  /** Plug in the runner of a kind of operation (the journal chain registers its kinds). */
  registerKind(kind: OperationKind, runner: KindRunner): void {
    this.runners.set(kind, runner);
  }

  /** The controller, once it knows which workloads it watches, decides what waits in `verifying`. */
  verifyWith(policy: VerificationPolicy): void {
    this.verification = policy;
  }

  private gateOf(op: { env: string; kind: OperationKind }) {
    return gateOf(this.deps.config, op.kind, op.env);
  }

  /** The context the gate rules read (src/core/gates/), for a request or a stored operation. */
  private gateContext(
    phase: GatePhase,
    req: Pick<OperationRequest, 'kind' | 'env' | 'requester'> & { app?: string; emergency: boolean },
    extra: Partial<GateContext> = {},
  ): GateContext {
    return gateContext(this.deps, phase, { ...req, app: req.app ?? '' }, extra);
  }

  private opGateContext(phase: GatePhase, op: Operation, extra: Partial<GateContext> = {}): GateContext {
    const emergency = isEmergency(op);
    return this.gateContext(
      phase,
      { ...op, emergency },
      { operation: { id: op.id, state: op.state, expiresAt: op.expiresAt }, ...extra },
    );
  }

  private required(op: Operation): Record<string, number> {
    const gate = this.gateOf(op);
    return gate ? requiredRoles(gate, op.kind, isEmergency(op)) : {};
  }

  /**
   * Policy checks before anything is stored (the gates' `request` phase): freeze, who may ask,
   * whether anyone else could approve.
   */
  async checkRequest(
    req: Pick<OperationRequest, 'kind' | 'env' | 'requester' | 'emergency'> & { app?: string },
    options: { needsApproval?: boolean } = {},
  ): Promise<void> {
    await enforceGates(
      this.gateContext('request', req, options.needsApproval === false ? { needsApproval: false } : {}),
    );
  }

  /**
   * Everything `request` would refuse, without storing anything: what `--dry-run` and
   * `diff`'s advice run. Same checks, same order, same words as the real request, and the lock
   * the real request would meet (the gates' `dry-run` phase).
   */
  async preflight(req: Pick<OperationRequest, 'kind' | 'app' | 'env' | 'requester' | 'emergency'>): Promise<void> {
    await enforceGates(this.gateContext('dry-run', req, { locks: this.deps.store }));
  }

  async request(req: OperationRequest): Promise<Operation> {
    const { store } = this.deps;
    await this.checkRequest(req);
    const gate = this.gateOf(req);
    const expiresAt = gate ? new Date(this.deps.clock.now().getTime() + gate.expiresAfter).toISOString() : null;
    const env = req.kind.startsWith('journal') ? undefined : findEnv(this.deps.config, req.env);
    // What the operation waits for and where it came from, stored with the row itself. Claimed
    // by this worker from the start: no sweep runs it before it holds its environment's lock.
    const op = await store.createOperation({
      ...req,
      expiresAt,
      claim: { worker: this.deps.workerId, untilMs: CLAIM_MS },
      progress: {
        requiredRoles: gate ? requiredRoles(gate, req.kind, isGitPlan(req.plan) && Boolean(req.plan.emergency)) : {},
        source: req.source,
        ...(env?.confirm ? { confirm: true } : {}),
      },
    });
    this.requesting.add(op.id); // this process's sweep leaves it alone, too
    try {
      return await this.lockAndAdvance(req, op);
    } finally {
      this.requesting.delete(op.id);
    }
  }

  private async lockAndAdvance(req: OperationRequest, op: Operation): Promise<Operation> {
    const { store } = this.deps;
    let lock: Awaited<ReturnType<typeof store.acquireLock>>;
    try {
      lock = await store.acquireLock(req.app, req.env, op.id, req.requester, `${req.kind} ${op.id}`);
      if (lock?.operationId && !lock.manual) {
        // The holder may have expired without anyone noticing yet: let it expire, then try again.
        const holder = await store.findOperation(lock.operationId);
        if (holder && expiredWhileWaiting(holder, this.deps.clock.now())) {
          await this.advance(holder.id);
          lock = await store.acquireLock(req.app, req.env, op.id, req.requester, `${req.kind} ${op.id}`);
        }
      }
    } catch (err) {
      // No lock, so the row must not stay `requested` for a sweep to run it without one.
      await store.transition(op.id, 'cancelled', 'conveyor', { error: (err as Error).message }).catch(() => undefined);
      throw err;
    }
    if (lock) {
      // The record says what happened: busy with another operation (named), or locked by hand.
      const message = lockedMessage(lock, req.app, req.env);
      await store.transition(op.id, 'cancelled', 'conveyor', { error: message });
      throw new ConflictError(message);
    }
    // Claimed since it was stored, and no sweep ran it: `op` is the row as it stands.
    return this.advance(op.id, op);
  }

  /** Run an operation as far as it can go now; returns its latest state. `claimed`: this worker holds it, as read. */
  advance(id: string, claimed?: Operation): Promise<Operation> {
    const run = this.advanceNow(id, claimed);
    this.inFlight.add(run);
    return run.finally(() => this.inFlight.delete(run));
  }

  private async advanceNow(id: string, given?: Operation): Promise<Operation> {
    const { store, workerId } = this.deps;
    const claimed = given ?? (await store.claim(id, workerId, CLAIM_MS));
    if (!claimed) return store.operation(id);
    // The operation as each move left it: a move's write returns the whole row (with what
    // publishing it recorded), so the next handler starts from it without reading it again.
    this.moved.set(id, null);
    // `return await` throughout: a rejection must settle inside this try, not race the finally.
    try {
      let op = claimed; // the row as claimed (by this call, or when its request stored it)
      for (let guard = 0; guard < 12; guard++) {
        if (FINAL_STATES.has(op.state)) return op;
        this.moved.set(id, null);
        const next = await this.step(op);
        if (!next) return await store.operation(id);
        op = this.moved.get(id) ?? (await store.operation(id));
      }
      return await store.operation(id);
    } catch (err) {
      return await this.fail(id, err);
    } finally {
      // A move of this run to a final state let go of the claim in its own write.
      const last = this.moved.get(id);
      this.moved.delete(id);
      if (!last || !FINAL_STATES.has(last.state)) await store.release(id, workerId).catch(() => undefined);
    }
  }

  /** One move of the state machine (the handler of the operation's state); false when it must wait. */
  private async step(op: Operation): Promise<boolean> {
    const handler = handlerFor(op.state);
    return handler ? handler.handle(op, this.moves) : false;
  }

  private async apply(op: Operation): Promise<KindOutcome> {
    const runner = this.runners.get(op.kind);
    if (!runner) throw new Error(`no runner is registered for ${op.kind} operations`);
    return runner.apply(op, this);
  }

  async move(
    op: Operation,
    to: OperationState,
    extra: { error?: string; progress?: ProgressPatch; through?: OperationState[] } = {},
  ): Promise<Operation> {
    const updated = await this.deps.store.transition(op.id, to, 'conveyor', extra);
    this.deps.log.info(
      {
        operation: op.id,
        kind: op.kind,
        app: op.app,
        env: op.env,
        from: op.state,
        ...(extra.through?.length ? { through: extra.through } : {}),
        to,
      },
      'operation transition',
    );
    if (FINAL_STATES.has(to)) {
      // The transition released the lock (and the claim) in the same write.
      if (to !== 'succeeded') await this.closeLeftoverPullRequest(updated);
      const seconds = Math.max(0, (this.deps.clock.now().getTime() - new Date(op.createdAt).getTime()) / 1000);
      this.deps.metrics?.operations.observe({ kind: op.kind, result: to }, seconds);
      if (op.kind === 'promote' || op.kind === 'rollback') {
        this.deps.metrics?.deploys.inc({ app: op.app, env: op.env, kind: op.kind, result: to });
        this.deps.metrics?.deployDuration.observe({ app: op.app, env: op.env }, seconds);
      }
    }
    // The row as the transition wrote it: its message is read in the same statement that wrote
    // the state (after it), which is what publish needs to read again otherwise. Each state
    // passed through is announced too, in order (the living message, GitHub's deployments).
    for (const state of extra.through ?? []) {
      const passing = { ...updated, state };
      await this.publish(passing, { fresh: true });
      updated.message = passing.message; // posted by that announcement: the next one edits it
    }
    await this.publish(updated, { fresh: true });
    if (this.moved.has(op.id)) this.moved.set(op.id, updated);
    return updated;
  }

  /** An operation that ends without merging closes its PR, so nobody merges it by hand later. */
  private async closeLeftoverPullRequest(op: Operation): Promise<void> {
    if (!isGitOperation(op) || !op.progress.prNumber || op.progress.mergeSha) return;
    const host = this.deps.git.get(op.app);
    await host
      ?.closePullRequest?.(op.progress.prNumber)
      .catch((err) =>
        this.deps.log.warn({ operation: op.id, err: (err as Error).message }, 'could not close the pull request'),
      );
  }

  private async fail(id: string, err: unknown): Promise<Operation> {
    const message = isConveyorError(err) ? err.message : 'an unexpected error; see the log';
    if (!isConveyorError(err)) this.deps.log.error({ err, operation: id }, 'operation step failed');
    const op = await this.deps.store.operation(id);
    if (isConveyorError(err) && err.retryable && !FINAL_STATES.has(op.state)) {
      // Upstream trouble: leave it where it is; the sweep resumes it.
      await this.deps.store.saveProgress(id, { lastError: message });
      this.deps.log.warn(
        { operation: id, err: message },
        'operation paused by an upstream failure; the sweep retries it',
      );
      return this.deps.store.operation(id);
    }
    if (FINAL_STATES.has(op.state)) return op;
    return this.move(op, 'failed', { error: message });
  }

  /**
   * Announce a transition once: edit the living message, or post to the environment's channel.
   * A Slack command's operation with no message yet is shown by the command's reply, which
   * becomes its message once Slack has taken it (the dispatcher's attachMessage, which writes
   * the message and then looks at the state): nothing is announced, and nothing recorded.
   * `fresh`: `op` was read (or written) by the store after its state was written, so its
   * message is current; otherwise the message is read again. What is recorded is applied to
   * `op` too (the message posted, `progress.published`).
   */
  async publish(op: Operation, options: { fresh?: boolean } = {}): Promise<void> {
    const { notifier, store } = this.deps;
    if (!notifier || op.progress.published === op.state) return;
    try {
      const message =
        op.message ??
        (op.progress.source === 'slack' && !options.fresh
          ? ((await store.findOperation(op.id))?.message ?? null)
          : null);
      const channel = message?.channel ?? this.channelOf(op) ?? '';
      const announces = Boolean(message) || (Boolean(channel) && op.progress.source !== 'slack');
      const dms = op.state === 'awaiting-approval';
      if (!announces && !dms) return;
      const gate = Object.keys(this.required(op)).length
        ? withWaitingFor(
            quorum(this.required(op), await store.approvals(op.id), approvalSubject(op), op.requester),
            this.deps.config,
            op.requester,
          )
        : null;
      const reply = renderOperation(op, gate, [], {
        web: webLinksFor(this.deps.config, op.app, this.deps.git.get(op.app)?.kind),
        tagNamespace: this.deps.git.get(op.app)?.tagNamespace,
      });
      if (announces) {
        const notice = { channel, text: reply.title, reply };
        if (message) await notifier.update(message, notice);
        else {
          const ref = await notifier.post(notice);
          if (ref) {
            await store.attachMessage(op.id, ref);
            op.message = ref;
          }
        }
        await store.saveProgress(op.id, { published: op.state });
        Object.assign(op.progress, { published: op.state });
      }
      if (dms && gate?.waitingFor) await this.sendToApprovers(op, gate.waitingFor, reply);
    } catch (err) {
      this.deps.log.warn({ operation: op.id, err: (err as Error).message }, 'could not announce the operation');
    }
  }

  /**
   * With `gate.dmApprovers`, each named person who can fill a missing role gets the waiting
   * request privately too (same card, same buttons; the click is authorised like any other).
   * Each person once per operation, recorded before the message goes out (at most once).
   */
  private async sendToApprovers(op: Operation, waitingFor: { users: string[] }[], reply: Reply): Promise<void> {
    const { notifier, store, config } = this.deps;
    if (!notifier || op.kind.startsWith('journal') || !findEnv(config, op.env)?.gate.dmApprovers) return;
    const sent = new Set(op.progress.dmSent ?? []);
    const people = [...new Set(waitingFor.flatMap((w) => w.users))].filter((u) => !sent.has(u));
    if (!people.length) return;
    await store.saveProgress(op.id, { dmSent: [...sent, ...people] });
    for (const user of people) {
      await notifier
        .post({ channel: user, text: `${reply.title} (you can approve)`, reply })
        .catch((err: unknown) =>
          this.deps.log.warn(
            { operation: op.id, user, err: (err as Error).message },
            'could not send the request to an approver',
          ),
        );
    }
  }

  private channelOf(op: Operation): string | undefined {
    if (op.kind.startsWith('journal')) return this.deps.config.journal?.channel;
    return findEnv(this.deps.config, op.env)?.channel;
  }

  async approve(id: string, user: string): Promise<{ op: Operation; role: string }> {
    const { store } = this.deps;
    const op = await store.operation(id);
    const required = this.required(op);
    const subject = approvalSubject(op);
    let approvals: Awaited<ReturnType<typeof store.approvals>> | null = null;
    const load = async () => {
      approvals ??= await store.approvals(id);
      return { approvals, subject };
    };
    // The gates' `approve` phase: expiry, then who may approve (not the requester, one person one role).
    const ctx = this.opGateContext('approve', op, { approval: { approver: user, load } });
    const outcome = await runGates(ctx);
    if (outcome.verdict === 'refuse') {
      if (outcome.outcome === 'expired') {
        const expired = await this.advance(id);
        if (outcome.audit) await store.audit(user, outcome.audit.action, id, outcome.audit.detail);
        throw new ConflictError(`operation ${id} is ${expired.state}: ${outcome.reason}; ask again`);
      }
      if (outcome.audit) await store.audit(user, outcome.audit.action, id, outcome.audit.detail);
      throw outcome.error;
    }
    const { approvals: given } = await load();
    const role = openRolesFor(required, given, subject, op.requester, await ctx.rolesOf(user))[0]!;
    await store.addApproval(id, user, role, subject);
    await store.audit(user, 'approval.given', id, { role });
    const updated = await this.advance(id);
    if (updated.state === 'awaiting-approval') await this.publish(withProgress(updated, { published: null }));
    return { op: updated, role };
  }

  async reject(id: string, user: string, reason: string | null): Promise<Operation> {
    const { store } = this.deps;
    const op = await store.operation(id);
    // The gates' `reject` phase: only while it waits, by an approver or (withdrawing) the requester.
    await enforceGates(this.opGateContext('reject', op, { rejection: { by: user } }), (a) =>
      store.audit(user, a.action, id, a.detail),
    );
    return this.move(op, user === op.requester ? 'cancelled' : 'rejected', {
      error: `${user === op.requester ? 'withdrawn' : 'rejected'} by ${user}${reason ? `: ${reason}` : ''}`,
    });
  }

  /** Verdict from the controller for an operation in `verifying`. */
  async finishVerification(id: string, ok: boolean, detail: string): Promise<Operation> {
    const op = await this.deps.store.operation(id);
    if (op.state !== 'verifying') return op;
    return this.move(op, ok ? 'succeeded' : 'failed', ok ? {} : { error: detail });
  }

  /** Resume what was interrupted, expire what waited too long. */
  async sweep(): Promise<void> {
    const open = await this.deps.store.operations({
      states: ['requested', 'awaiting-approval', 'approved', 'applying', 'applied', 'verifying'],
      limit: 1000,
    });
    for (const op of open) {
      if (this.requesting.has(op.id)) continue; // its request runs it, once it holds the lock
      await this.advance(op.id).catch((err) =>
        this.deps.log.warn({ operation: op.id, err: (err as Error).message }, 'sweep could not advance'),
      );
    }
  }

  startSweeper(intervalMs = 30_000): void {
    this.sweeper = setInterval(() => void this.sweep(), intervalMs);
    this.sweeper.unref();
  }

  /** Stop sweeping and wait for steps in flight to reach a safe point. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.allSettled([...this.inFlight]);
  }
}
