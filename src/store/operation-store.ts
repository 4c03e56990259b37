/**
 * Operations (table `operations`): the persisted promotions, rollbacks and journal moves, their
 * progress, the message that shows each, and which worker holds it.
 *
 * Spans two aggregates: `transition` writes the new state and its audit line (./audit-store.ts)
 * in one statement, so no state change goes unaudited; `createOperation` writes the row and its
 * `operation.requested` audit line in one statement too. One statement each, not a transaction
 * of several: a promotion makes a handful of these, and each round trip counts (issue #23).
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Operation, OperationKind, OperationState } from '../core/operation.js';
import { canTransition, FINAL_STATES, movesThrough, OPERATION_STATES, type ProgressPatch } from '../core/operation.js';
import type { Clock, MessageRef, NewOperation, OperationFilter, OperationStore } from '../core/ports.js';
import type { Db } from './db.js';
import { iso } from './rows.js';

function toOperation(r: Record<string, unknown>): Operation {
  // The row's kind tells its plan and progress (a Git kind has a GitPlan): the union is asserted here.
  return {
    id: String(r.id),
    kind: r.kind as OperationKind,
    app: String(r.app),
    env: String(r.env),
    state: r.state as OperationState,
    requester: String(r.requester),
    plan: r.plan as Operation['plan'],
    progress: (r.progress ?? {}) as Record<string, unknown>,
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    message: (r.message as MessageRef | null) ?? null,
    error: (r.error as string | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    expiresAt: r.expires_at ? iso(r.expires_at) : null,
  } as Operation;
}

export function newOperationId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `op_${[...randomBytes(10)].map((b) => alphabet[b % 36]).join('')}`;
}

export class SqlOperationStore implements OperationStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async createOperation(input: NewOperation): Promise<Operation> {
    const at = this.clock.now();
    const now = at.toISOString();
    const id = newOperationId();
    // One statement: the row and its `operation.requested` audit line, together or not at all.
    const rows = await this.db.query<Record<string, unknown>>(
      `WITH created AS (
         INSERT INTO operations (id, kind, app, env, state, requester, plan, progress, idempotency_key, created_at, updated_at, expires_at, claimed_by, claimed_until)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8::jsonb,$9,$10,$10,$11,$13,$14) RETURNING *),
       audited AS (
         INSERT INTO audit (at, actor, action, operation_id, detail)
         SELECT $10, $6, 'operation.requested', id, $12::jsonb FROM created)
       SELECT * FROM created`,
      [
        id,
        input.kind,
        input.app,
        input.env,
        input.state ?? 'requested',
        input.requester,
        JSON.stringify(input.plan),
        JSON.stringify(input.progress ?? {}),
        input.idempotencyKey,
        now,
        input.expiresAt,
        JSON.stringify({ kind: input.kind, app: input.app, env: input.env }),
        input.claim?.worker ?? null,
        input.claim ? new Date(at.getTime() + input.claim.untilMs).toISOString() : null,
      ],
    );
    return toOperation(rows[0]!);
  }

  async operation(id: string): Promise<Operation> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM operations WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`no operation ${id}`);
    return toOperation(rows[0]);
  }

  async findOperation(id: string): Promise<Operation | null> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM operations WHERE id = $1', [id]);
    return rows[0] ? toOperation(rows[0]) : null;
  }

  async operationByKey(key: string): Promise<Operation | null> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM operations WHERE idempotency_key = $1', [
      key,
    ]);
    return rows[0] ? toOperation(rows[0]) : null;
  }

  async operations(filter: OperationFilter = {}): Promise<Operation[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM operations WHERE ($1::text IS NULL OR app = $1) AND ($2::text IS NULL OR env = $2)
        AND ($3::text[] IS NULL OR state = ANY($3)) AND ($4::text[] IS NULL OR kind = ANY($4))
       ORDER BY created_at DESC, seq DESC LIMIT $5`,
      [filter.app ?? null, filter.env ?? null, filter.states ?? null, filter.kinds ?? null, filter.limit ?? 100],
    );
    return rows.map(toOperation);
  }

  async countOperations(filter: OperationFilter = {}): Promise<number> {
    const rows = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM operations WHERE ($1::text IS NULL OR app = $1) AND ($2::text IS NULL OR env = $2)
        AND ($3::text[] IS NULL OR state = ANY($3)) AND ($4::text[] IS NULL OR kind = ANY($4))`,
      [filter.app ?? null, filter.env ?? null, filter.states ?? null, filter.kinds ?? null],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Move an operation to a new state; refuses transitions the state machine does not allow.
   * One statement: the row is locked, checked against the states it may leave for `to`, moved
   * (with `extra.progress` merged, as saveProgress would) and its audit line appended, all or
   * nothing. A final state also lets go of the operation's lock (not a manual one) and of its
   * worker's claim in that statement: an ended operation never holds either, and the engine
   * writes neither again. `extra.through`: states passed on the way to `to` in the same write,
   * each audited as its own move (the error and detail go with the last). The row comes back as
   * written, so it carries the message attached so far.
   */
  async transition(
    id: string,
    to: OperationState,
    actor: string,
    extra: {
      error?: string | null;
      detail?: Record<string, unknown>;
      progress?: ProgressPatch;
      through?: OperationState[];
    } = {},
  ): Promise<Operation> {
    const hops = movesThrough(extra.through ?? [], to);
    const first = hops[0]!;
    const from = OPERATION_STATES.filter((s) => s !== first && canTransition(s, first));
    const now = this.clock.now().toISOString();
    const rows = await this.db.query<Record<string, unknown>>(
      `WITH current AS (SELECT id, state FROM operations WHERE id = $1 FOR UPDATE),
       moved AS (
         UPDATE operations o SET state = $2, error = COALESCE($3, o.error), updated_at = $4,
                progress = CASE WHEN $7::jsonb IS NULL THEN o.progress ELSE o.progress || $7::jsonb END,
                claimed_by = CASE WHEN $9 THEN NULL ELSE o.claimed_by END,
                claimed_until = CASE WHEN $9 THEN NULL ELSE o.claimed_until END
         FROM current WHERE o.id = current.id AND current.state = ANY($5::text[])
         RETURNING o.*, current.state AS from_state),
       audited AS (
         INSERT INTO audit (at, actor, action, operation_id, detail)
         SELECT $4, $6, 'operation.' || hop.state, moved.id,
                jsonb_build_object('from', COALESCE(hop.prev, moved.from_state))
                  || CASE WHEN hop.n = cardinality($10::text[]) THEN $8::jsonb ELSE '{}'::jsonb END
         FROM moved, unnest($10::text[], $11::text[]) WITH ORDINALITY AS hop(state, prev, n)
         ORDER BY hop.n),
       unlocked AS (
         DELETE FROM locks l USING moved
         WHERE $9 AND l.app = moved.app AND l.env = moved.env AND l.manual = false AND l.operation_id = moved.id)
       SELECT * FROM moved`,
      [
        id,
        to,
        extra.error ?? null,
        now,
        from,
        actor,
        extra.progress ? JSON.stringify(extra.progress) : null,
        JSON.stringify({ ...(extra.error ? { error: extra.error } : {}), ...extra.detail }),
        FINAL_STATES.has(to),
        hops,
        [null, ...hops.slice(0, -1)],
      ],
    );
    if (rows[0]) return toOperation(rows[0]);
    // Not moved: say why (no such operation, already there, or a move the machine forbids).
    const op = await this.findOperation(id);
    if (!op) throw new NotFoundError(`no operation ${id}`);
    if (op.state === to) return op;
    throw new ConflictError(`operation ${id} is ${op.state}; it cannot become ${to}`);
  }

  async saveProgress(id: string, progress: Record<string, unknown>): Promise<void> {
    await this.db.query('UPDATE operations SET progress = progress || $2::jsonb, updated_at = $3 WHERE id = $1', [
      id,
      JSON.stringify(progress),
      this.clock.now().toISOString(),
    ]);
  }

  async savePlan(id: string, plan: Operation['plan']): Promise<void> {
    await this.db.query('UPDATE operations SET plan = $2, updated_at = $3 WHERE id = $1', [
      id,
      JSON.stringify(plan),
      this.clock.now().toISOString(),
    ]);
  }

  async attachMessage(id: string, ref: MessageRef): Promise<void> {
    await this.db.query('UPDATE operations SET message = $2 WHERE id = $1', [id, JSON.stringify(ref)]);
  }

  /**
   * Claim an operation for this worker until `until`: the operation as claimed, or null when
   * another live worker has it. Safe across processes sharing one PostgreSQL.
   */
  async claim(id: string, worker: string, untilMs: number): Promise<Operation | null> {
    const now = this.clock.now();
    const rows = await this.db.query<Record<string, unknown>>(
      `UPDATE operations SET claimed_by = $2, claimed_until = $3
       WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < $4) RETURNING *`,
      [id, worker, new Date(now.getTime() + untilMs).toISOString(), now.toISOString()],
    );
    return rows[0] ? toOperation(rows[0]) : null;
  }

  /** Drop every claim (only safe when this process is the store's only user: a PGlite folder). */
  async releaseAllClaims(): Promise<void> {
    await this.db.query('UPDATE operations SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by IS NOT NULL');
  }

  async release(id: string, worker: string): Promise<void> {
    await this.db.query(
      'UPDATE operations SET claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2',
      [id, worker],
    );
  }
}
