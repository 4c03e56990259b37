/**
 * The state store's operation, approval, lock and audit ports held in memory: what the gate
 * rules, the engine's steps and their unit tests need, with the same semantics as the
 * PGlite/PostgreSQL store (state machine enforced on transition, progress merged, locks keyed by
 * app and environment with manual ones first, claims per worker).
 */
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import {
  canTransition,
  FINAL_STATES,
  movesThrough,
  type Operation,
  type OperationKind,
  type OperationState,
} from '../../src/core/operation.js';
import type { ApprovalRow, LockRow, MessageRef, NewOperation } from '../../src/core/ports.js';

/** A lock as the port describes it. */
export type MemoryLock = LockRow;

export interface MemoryAudit {
  actor: string;
  action: string;
  operationId: string | null;
  detail: Record<string, unknown>;
}

export class MemoryStore {
  readonly singleProcess = true;
  readonly ops = new Map<string, Operation>();
  readonly approvalRows = new Map<string, { userId: string; role: string; sha: string; at: string }[]>();
  readonly lockRows: MemoryLock[] = [];
  readonly auditRows: MemoryAudit[] = [];
  private readonly claims = new Map<string, string>();
  private seq = 0;

  constructor(private readonly now: () => Date = () => new Date('2025-03-05T12:00:00Z')) {}

  private stamp(): string {
    return this.now().toISOString();
  }

  async createOperation(input: NewOperation): Promise<Operation> {
    const id = `op_${String(++this.seq).padStart(4, '0')}`;
    // The kind tells the plan (as the store's rows do): the union is asserted, as in src/store.
    const op = {
      id,
      kind: input.kind,
      app: input.app,
      env: input.env,
      state: input.state ?? 'requested',
      requester: input.requester,
      plan: structuredClone(input.plan),
      progress: JSON.parse(JSON.stringify(input.progress ?? {})),
      idempotencyKey: input.idempotencyKey,
      message: null,
      error: null,
      createdAt: this.stamp(),
      updatedAt: this.stamp(),
      expiresAt: input.expiresAt,
    } as Operation;
    this.ops.set(id, op);
    if (input.claim) this.claims.set(id, input.claim.worker);
    await this.audit(input.requester, 'operation.requested', id, { kind: input.kind });
    return structuredClone(op);
  }

  async operation(id: string): Promise<Operation> {
    const op = this.ops.get(id);
    if (!op) throw new NotFoundError(`no operation ${id}`);
    return structuredClone(op);
  }

  async findOperation(id: string): Promise<Operation | null> {
    return this.ops.has(id) ? this.operation(id) : null;
  }

  async operationByKey(key: string): Promise<Operation | null> {
    const op = [...this.ops.values()].find((o) => o.idempotencyKey === key);
    return op ? structuredClone(op) : null;
  }

  async operations(
    filter: { app?: string; env?: string; states?: OperationState[]; kinds?: OperationKind[]; limit?: number } = {},
  ): Promise<Operation[]> {
    return [...this.ops.values()]
      .filter((o) => (!filter.app || o.app === filter.app) && (!filter.env || o.env === filter.env))
      .filter(
        (o) => (!filter.states || filter.states.includes(o.state)) && (!filter.kinds || filter.kinds.includes(o.kind)),
      )
      .reverse()
      .slice(0, filter.limit ?? 50)
      .map((o) => structuredClone(o));
  }

  async countOperations(
    filter: { app?: string; env?: string; states?: OperationState[]; kinds?: OperationKind[] } = {},
  ) {
    return (await this.operations({ ...filter, limit: Number.POSITIVE_INFINITY })).length;
  }

  async transition(
    id: string,
    to: OperationState,
    actor: string,
    extra: {
      error?: string | null;
      detail?: Record<string, unknown>;
      progress?: Record<string, unknown>;
      through?: OperationState[];
    } = {},
  ): Promise<Operation> {
    const op = this.ops.get(id);
    if (!op) throw new NotFoundError(`no operation ${id}`);
    if (op.state === to) return structuredClone(op);
    const hops = movesThrough(extra.through ?? [], to);
    if (!canTransition(op.state, hops[0]!))
      throw new ConflictError(`operation ${id} is ${op.state}; it cannot become ${to}`);
    for (const [i, hop] of hops.slice(0, -1).entries()) {
      await this.audit(actor, `operation.${hop}`, id, { from: i === 0 ? op.state : hops[i - 1] });
    }
    const from = hops.length > 1 ? hops[hops.length - 2]! : op.state;
    op.state = to;
    if (extra.error) op.error = extra.error;
    // As JSONB `||`, in the same write as the state.
    if (extra.progress) op.progress = { ...op.progress, ...JSON.parse(JSON.stringify(extra.progress)) };
    op.updatedAt = this.stamp();
    if (FINAL_STATES.has(to)) {
      // In the same write, as the SQL store: an ended operation holds no lock and no claim.
      await this.releaseLock(op.app, op.env, id);
      this.claims.delete(id);
    }
    await this.audit(actor, `operation.${to}`, id, {
      from,
      ...(extra.error ? { error: extra.error } : {}),
      ...extra.detail,
    });
    return structuredClone(op);
  }

  async saveProgress(id: string, progress: Record<string, unknown>): Promise<void> {
    const op = this.ops.get(id);
    if (!op) return;
    // As JSONB `||`: undefined keys vanish, null stays null.
    op.progress = { ...op.progress, ...JSON.parse(JSON.stringify(progress)) };
    op.updatedAt = this.stamp();
  }

  async savePlan(id: string, plan: Operation['plan']): Promise<void> {
    const op = this.ops.get(id);
    if (op) op.plan = structuredClone(plan);
  }

  async attachMessage(id: string, ref: MessageRef): Promise<void> {
    const op = this.ops.get(id);
    if (op) op.message = ref;
  }

  async claim(id: string, worker: string): Promise<Operation | null> {
    const holder = this.claims.get(id);
    const op = this.ops.get(id);
    if (!op || (holder && holder !== worker)) return null;
    this.claims.set(id, worker);
    return structuredClone(op);
  }

  async release(id: string, worker: string): Promise<void> {
    if (this.claims.get(id) === worker) this.claims.delete(id);
  }

  async releaseAllClaims(): Promise<void> {
    this.claims.clear();
  }

  async approvals(operationId: string) {
    return structuredClone(this.approvalRows.get(operationId) ?? []);
  }

  async approvalsOf(operationIds: string[]) {
    const byOperation = new Map<string, ApprovalRow[]>();
    for (const id of operationIds) {
      const rows = this.approvalRows.get(id);
      if (rows?.length) byOperation.set(id, structuredClone(rows));
    }
    return byOperation;
  }

  async addApproval(operationId: string, userId: string, role: string, sha: string): Promise<boolean> {
    const rows = this.approvalRows.get(operationId) ?? [];
    if (rows.some((r) => r.userId === userId && r.role === role && r.sha === sha)) return false;
    rows.push({ userId, role, sha, at: this.stamp() });
    this.approvalRows.set(operationId, rows);
    return true;
  }

  async audit(
    actor: string,
    action: string,
    operationId: string | null,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    this.auditRows.push({ actor, action, operationId, detail });
  }

  async locksFor(app: string, env: string): Promise<MemoryLock[]> {
    const mine = this.lockRows.filter((l) => l.env === env && (l.app === app || (l.manual && l.app === '*')));
    return [...mine.filter((l) => l.manual), ...mine.filter((l) => !l.manual)].map((l) => ({ ...l }));
  }

  async allLocks(): Promise<MemoryLock[]> {
    return this.lockRows.map((l) => ({ ...l }));
  }

  async acquireLock(
    app: string,
    env: string,
    operationId: string,
    holder: string,
    reason: string,
  ): Promise<MemoryLock | null> {
    const [existing] = await this.locksFor(app, env);
    if (existing) return existing.operationId === operationId ? null : existing;
    this.lockRows.push({ app, env, operationId, holder, reason, manual: false, at: this.stamp() });
    return null;
  }

  async releaseLock(app: string, env: string, operationId: string): Promise<void> {
    const i = this.lockRows.findIndex(
      (l) => l.app === app && l.env === env && !l.manual && l.operationId === operationId,
    );
    if (i !== -1) this.lockRows.splice(i, 1);
  }

  async setManualLock(app: string, env: string, holder: string, reason: string): Promise<boolean> {
    if (this.lockRows.some((l) => l.app === app && l.env === env && l.manual)) return false;
    this.lockRows.push({ app, env, operationId: null, holder, reason, manual: true, at: this.stamp() });
    return true;
  }

  async clearManualLock(app: string, env: string): Promise<boolean> {
    const i = this.lockRows.findIndex((l) => l.app === app && l.env === env && l.manual);
    if (i === -1) return false;
    this.lockRows.splice(i, 1);
    return true;
  }
}
