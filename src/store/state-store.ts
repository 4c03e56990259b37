/**
 * The state store: operations, approvals, locks, idempotency, audit, journal versions and
 * imports, the embedded key-value table, live state. One implementation over `Db`, so PGlite
 * and PostgreSQL behave the same. The audit log is append-only: nothing here updates or
 * deletes an audit row.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Operation, OperationKind, OperationState } from '../core/operation.js';
import { canTransition } from '../core/operation.js';
import type {
  ApprovalRow,
  AuditEntry,
  Clock,
  CommandLogEntry,
  CommandLogLine,
  LiveStateRow,
  LockRow,
  MessageRef,
  NewOperation,
  OperationFilter,
  RequestKeyClaim,
  Store,
} from '../core/ports.js';
import type { Db } from './db.js';
import { GroupInsert } from './group-insert.js';
import { migrate } from './migrations.js';

// The row types are the core's (its store ports); re-exported for the store's own users.
export type {
  ApprovalRow,
  AuditEntry,
  CommandLogEntry,
  JournalImport,
  JournalVersion,
  LockRow,
} from '../core/ports.js';

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

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

const toCommandLogLine = (r: Record<string, unknown>): CommandLogLine => ({
  actor: String(r.actor),
  text: String(r.text),
  outcome: String(r.outcome),
  at: iso(r.at),
});

export class StateStore implements Store {
  constructor(
    readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.commandLines = new GroupInsert<void>(db, {
      head: 'INSERT INTO command_log (at, actor, source, text, outcome, detail, request_key) VALUES',
      tail: 'ON CONFLICT DO NOTHING',
      width: 7,
      settle: (_rows, batch) => batch.map(() => undefined),
    });
  }

  static async open(db: Db, clock: Clock): Promise<StateStore> {
    await migrate(db);
    return new StateStore(db, clock);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** A PGlite folder has one process at a time (its folder lock). */
  get singleProcess(): boolean {
    return this.db.kind === 'pglite';
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  // ------------------------------------------------------------ command log and audit

  /** Command-log lines of a burst, written together (outside a transaction). */
  private readonly commandLines: GroupInsert<void>;

  /**
   * One line per command; with a request key, one line per request however often it runs.
   * Resolves once the line is committed (lines of one burst share a statement).
   */
  async logCommand(entry: CommandLogEntry, db = this.db): Promise<void> {
    const values = [
      this.now(),
      entry.actor,
      entry.source,
      entry.text.slice(0, 4000),
      entry.outcome,
      entry.detail ?? null,
      entry.requestKey ?? null,
    ];
    if (db === this.db) return this.commandLines.add(values);
    await db.query(
      'INSERT INTO command_log (at, actor, source, text, outcome, detail, request_key) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING',
      values,
    );
  }

  async commandLogFor(requestKey: string): Promise<CommandLogLine[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM command_log WHERE request_key = $1', [
      requestKey,
    ]);
    return rows.map(toCommandLogLine);
  }

  async commandLog(limit = 50): Promise<CommandLogLine[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM command_log ORDER BY id DESC LIMIT $1', [
      limit,
    ]);
    return rows.map(toCommandLogLine);
  }

  async audit(
    actor: string,
    action: string,
    operationId: string | null,
    detail: Record<string, unknown> = {},
    db = this.db,
  ): Promise<void> {
    await db.query('INSERT INTO audit (at, actor, action, operation_id, detail) VALUES ($1,$2,$3,$4,$5)', [
      this.now(),
      actor,
      action,
      operationId,
      JSON.stringify(detail),
    ]);
  }

  async auditLog(filter: { operationId?: string; action?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM audit WHERE ($1::text IS NULL OR operation_id = $1) AND ($2::text IS NULL OR action = $2)
       ORDER BY id DESC LIMIT $3`,
      [filter.operationId ?? null, filter.action ?? null, filter.limit ?? 200],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      at: iso(r.at),
      actor: String(r.actor),
      action: String(r.action),
      operationId: (r.operation_id as string | null) ?? null,
      detail: r.detail as Record<string, unknown>,
    }));
  }

  // ------------------------------------------------------------ idempotency

  /** Claim a key; false when it was seen before. */
  async claimKey(key: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO idempotency (key, at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING key',
      [key, this.now()],
    );
    return rows.length === 1;
  }

  /**
   * Claim a request key for a request (its fingerprint) on behalf of a worker. Claimed: the
   * caller runs it. Otherwise what is known of the earlier claim: its fingerprint (another
   * request under the same key is a conflict), its reply once there is one, who holds it.
   */
  async claimRequestKey(key: string, fingerprint: string, worker: string): Promise<RequestKeyClaim> {
    const rows = await this.db.query(
      'INSERT INTO idempotency (key, at, fingerprint, claimed_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING key',
      [key, this.now(), fingerprint, worker],
    );
    if (rows.length === 1) return { claimed: true };
    const [row] = await this.db.query<Record<string, unknown>>('SELECT * FROM idempotency WHERE key = $1', [key]);
    if (!row) return this.claimRequestKey(key, fingerprint, worker);
    return {
      claimed: false,
      fingerprint: (row.fingerprint as string | null) ?? null,
      reply: row.reply ?? null,
      claimedBy: (row.claimed_by as string | null) ?? null,
      at: iso(row.at),
    };
  }

  /** The fingerprint of the request that took a key, if any took it. */
  async requestKeyFingerprint(key: string): Promise<string | null> {
    const rows = await this.db.query<{ fingerprint: string | null }>(
      'SELECT fingerprint FROM idempotency WHERE key = $1',
      [key],
    );
    return rows[0]?.fingerprint ?? null;
  }

  /** Take over a key whose claimant died before it answered; false when someone else did first. */
  async takeOverKey(key: string, worker: string, from: string | null): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE idempotency SET claimed_by = $2, at = $4 WHERE key = $1 AND reply IS NULL AND claimed_by IS NOT DISTINCT FROM $3 RETURNING key',
      [key, worker, from, this.now()],
    );
    return rows.length === 1;
  }

  /** The answer to a request and its command-log line, together or not at all. */
  async finishRequest(key: string, reply: unknown, entry: CommandLogEntry): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('UPDATE idempotency SET reply = $2 WHERE key = $1', [key, JSON.stringify(reply)]);
      await this.logCommand({ ...entry, requestKey: key }, tx);
    });
  }

  async saveKeyReply(key: string, reply: unknown): Promise<void> {
    await this.db.query('UPDATE idempotency SET reply = $2 WHERE key = $1', [key, JSON.stringify(reply)]);
  }

  async keyReply(key: string): Promise<unknown | undefined> {
    const rows = await this.db.query<{ reply: unknown }>('SELECT reply FROM idempotency WHERE key = $1', [key]);
    return rows[0]?.reply ?? undefined;
  }

  async forgetKey(key: string): Promise<void> {
    await this.db.query('DELETE FROM idempotency WHERE key = $1 AND reply IS NULL', [key]);
  }

  /** Remember a webhook delivery id; false when it was delivered before. */
  async claimDelivery(id: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO deliveries (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id',
      [id, this.now()],
    );
    return rows.length === 1;
  }

  // ------------------------------------------------------------ operations

  async createOperation(input: NewOperation): Promise<Operation> {
    const now = this.now();
    const id = newOperationId();
    const rows = await this.db.query<Record<string, unknown>>(
      `INSERT INTO operations (id, kind, app, env, state, requester, plan, idempotency_key, created_at, updated_at, expires_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9,$10) RETURNING *`,
      [
        id,
        input.kind,
        input.app,
        input.env,
        input.state ?? 'requested',
        input.requester,
        JSON.stringify(input.plan),
        input.idempotencyKey,
        now,
        input.expiresAt,
      ],
    );
    await this.audit(input.requester, 'operation.requested', id, { kind: input.kind, app: input.app, env: input.env });
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

  /** Move an operation to a new state; refuses transitions the state machine does not allow. */
  async transition(
    id: string,
    to: OperationState,
    actor: string,
    extra: { error?: string | null; detail?: Record<string, unknown> } = {},
  ): Promise<Operation> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<Record<string, unknown>>('SELECT * FROM operations WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw new NotFoundError(`no operation ${id}`);
      const op = toOperation(rows[0]);
      if (op.state === to) return op;
      if (!canTransition(op.state, to))
        throw new ConflictError(`operation ${id} is ${op.state}; it cannot become ${to}`);
      const updated = await tx.query<Record<string, unknown>>(
        'UPDATE operations SET state = $2, error = COALESCE($3, error), updated_at = $4 WHERE id = $1 RETURNING *',
        [id, to, extra.error ?? null, this.now()],
      );
      await this.audit(
        actor,
        `operation.${to}`,
        id,
        { from: op.state, ...(extra.error ? { error: extra.error } : {}), ...extra.detail },
        tx,
      );
      return toOperation(updated[0]!);
    });
  }

  async saveProgress(id: string, progress: Record<string, unknown>): Promise<void> {
    await this.db.query('UPDATE operations SET progress = progress || $2::jsonb, updated_at = $3 WHERE id = $1', [
      id,
      JSON.stringify(progress),
      this.now(),
    ]);
  }

  async savePlan(id: string, plan: Operation['plan']): Promise<void> {
    await this.db.query('UPDATE operations SET plan = $2, updated_at = $3 WHERE id = $1', [
      id,
      JSON.stringify(plan),
      this.now(),
    ]);
  }

  async attachMessage(id: string, ref: MessageRef): Promise<void> {
    await this.db.query('UPDATE operations SET message = $2 WHERE id = $1', [id, JSON.stringify(ref)]);
  }

  /**
   * Claim an operation for this worker until `until`; false when another live worker has it.
   * Safe across processes sharing one PostgreSQL.
   */
  async claim(id: string, worker: string, untilMs: number): Promise<boolean> {
    const now = this.clock.now();
    const rows = await this.db.query(
      `UPDATE operations SET claimed_by = $2, claimed_until = $3
       WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < $4) RETURNING id`,
      [id, worker, new Date(now.getTime() + untilMs).toISOString(), now.toISOString()],
    );
    return rows.length === 1;
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

  // ------------------------------------------------------------ approvals

  async addApproval(operationId: string, userId: string, role: string, sha: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO approvals (operation_id, user_id, role, sha, at) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING RETURNING user_id',
      [operationId, userId, role, sha, this.now()],
    );
    return rows.length === 1;
  }

  async approvals(operationId: string): Promise<ApprovalRow[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM approvals WHERE operation_id = $1 ORDER BY at',
      [operationId],
    );
    return rows.map((r) => ({ userId: String(r.user_id), role: String(r.role), sha: String(r.sha), at: iso(r.at) }));
  }

  // ------------------------------------------------------------ locks

  /**
   * Take the apply lock of (app, env) for an operation. Returns null on success, else the
   * lock that is in the way (an operation's or a manual one, also `*` for every app).
   */
  async acquireLock(
    app: string,
    env: string,
    operationId: string,
    holder: string,
    reason: string,
  ): Promise<LockRow | null> {
    return this.db.transaction(async (tx) => {
      const manual = await this.locksFor(app, env, tx, true);
      if (manual[0]) return manual[0];
      const rows = await tx.query(
        `INSERT INTO locks (app, env, operation_id, holder, reason, manual, at) VALUES ($1,$2,$3,$4,$5,false,$6)
         ON CONFLICT DO NOTHING RETURNING app`,
        [app, env, operationId, holder, reason, this.now()],
      );
      if (rows.length === 1) return null;
      const [existing] = await this.locksFor(app, env, tx, false);
      if (existing?.operationId === operationId) return null;
      return existing ?? null;
    });
  }

  async releaseLock(app: string, env: string, operationId: string): Promise<void> {
    await this.db.query('DELETE FROM locks WHERE app = $1 AND env = $2 AND manual = false AND operation_id = $3', [
      app,
      env,
      operationId,
    ]);
  }

  async setManualLock(app: string, env: string, holder: string, reason: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO locks (app, env, operation_id, holder, reason, manual, at) VALUES ($1,$2,NULL,$3,$4,true,$5)
       ON CONFLICT DO NOTHING RETURNING app`,
      [app, env, holder, reason, this.now()],
    );
    return rows.length === 1;
  }

  async clearManualLock(app: string, env: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM locks WHERE app = $1 AND env = $2 AND manual = true RETURNING app', [
      app,
      env,
    ]);
    return rows.length === 1;
  }

  async locksFor(app: string, env: string, db: Db = this.db, manualOnly = false): Promise<LockRow[]> {
    const rows = await db.query<Record<string, unknown>>(
      `SELECT * FROM locks WHERE env = $2 AND (app = $1 OR (manual AND app = '*')) AND ($3 = false OR manual) ORDER BY manual DESC`,
      [app, env, manualOnly],
    );
    return rows.map((r) => ({
      app: String(r.app),
      env: String(r.env),
      operationId: (r.operation_id as string | null) ?? null,
      holder: String(r.holder),
      reason: String(r.reason),
      manual: Boolean(r.manual),
      at: iso(r.at),
    }));
  }

  async allLocks(): Promise<LockRow[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM locks ORDER BY app, env');
    return rows.map((r) => ({
      app: String(r.app),
      env: String(r.env),
      operationId: (r.operation_id as string | null) ?? null,
      holder: String(r.holder),
      reason: String(r.reason),
      manual: Boolean(r.manual),
      at: iso(r.at),
    }));
  }

  // ------------------------------------------------------------ live state (controller)

  async setLiveState(app: string, env: string, state: string, detail: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO live_state (app, env, state, detail, since) VALUES ($1,$2,$3,$4,$5)
       ON CONFLICT (app, env) DO UPDATE SET state = $3, detail = $4, since = $5
       WHERE live_state.state IS DISTINCT FROM $3 RETURNING app`,
      [app, env, state, detail, this.now()],
    );
    return rows.length === 1;
  }

  async liveStates(): Promise<LiveStateRow[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM live_state');
    return rows.map((r) => ({
      app: String(r.app),
      env: String(r.env),
      state: String(r.state),
      detail: String(r.detail),
      since: iso(r.since),
    }));
  }
}
