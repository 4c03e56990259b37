/**
 * The audit log (table `audit`): append-only. Nothing here updates or deletes a row; only
 * retention (./retention.ts) prunes it, and only when `state.retention.auditDays` is set.
 * Other aggregates append their audit line inside their own transaction with `appendAudit(tx, …)`.
 */
import type { AuditEntry, AuditLog, Clock } from '../core/ports.js';
import type { Db } from './db.js';
import { iso } from './rows.js';

/** The audit half of the core's AuditLog port (the command log is ./command-log-store.ts). */
export type AuditPort = Pick<AuditLog, 'audit' | 'auditLog'>;

/** One audit row, on `db` (the store's handle or a transaction of another aggregate). */
export async function appendAudit(
  db: Db,
  at: string,
  actor: string,
  action: string,
  operationId: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query('INSERT INTO audit (at, actor, action, operation_id, detail) VALUES ($1,$2,$3,$4,$5)', [
    at,
    actor,
    action,
    operationId,
    JSON.stringify(detail),
  ]);
}

/** An audit row as the port reads it (a driver may hand the JSON detail over as text). */
export function toAuditEntry(r: Record<string, unknown>): AuditEntry {
  return {
    id: Number(r.id),
    at: iso(r.at),
    actor: String(r.actor),
    action: String(r.action),
    operationId: (r.operation_id as string | null) ?? null,
    detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
  };
}

export class SqlAuditLog implements AuditPort {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async audit(
    actor: string,
    action: string,
    operationId: string | null,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    await appendAudit(this.db, this.clock.now().toISOString(), actor, action, operationId, detail);
  }

  async auditLog(filter: { operationId?: string; action?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    // Only the conditions asked for, so each question reads through its index (audit_operation,
    // audit_action) rather than a plan made for any of them.
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.operationId !== undefined) where.push(`operation_id = $${params.push(filter.operationId)}`);
    if (filter.action !== undefined) where.push(`action = $${params.push(filter.action)}`);
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.push(filter.limit ?? 200)}`,
      params,
    );
    return rows.map(toAuditEntry);
  }
}
