/**
 * Reading the audit log by time and filters for the board and the NDJSON export: a read-only
 * query on the store's `audit` table (the store's own `auditLog` reads newest first by count;
 * the export needs "everything since", oldest first, page by page).
 */
import type { AuditEntry } from '../../core/ports.js';
import { toAuditEntry } from '../../store/audit-store.js';
import type { Db } from '../../store/db.js';

export interface AuditQuery {
  /** ISO time: lines at or after it. */
  since?: string;
  /** Lines with an id above this one (the export's paging). */
  afterId?: number;
  /** An exact action ("operation.succeeded") or a prefix ending in "." ("operation."). */
  action?: string;
  actor?: string;
  operationId?: string;
  order: 'asc' | 'desc';
  limit: number;
}

export async function queryAudit(db: Db, q: AuditQuery): Promise<AuditEntry[]> {
  const prefix = q.action?.endsWith('.') ? `${q.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const rows = await db.query<Record<string, unknown>>(
    `SELECT id, at, actor, action, operation_id, detail FROM audit
     WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz)
       AND ($2::bigint IS NULL OR id > $2::bigint)
       AND ($3::text IS NULL OR action = $3)
       AND ($4::text IS NULL OR action LIKE $4)
       AND ($5::text IS NULL OR actor = $5)
       AND ($6::text IS NULL OR operation_id = $6)
     ORDER BY id ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $7`,
    [
      q.since ?? null,
      q.afterId ?? null,
      prefix ? null : (q.action ?? null),
      prefix,
      q.actor ?? null,
      q.operationId ?? null,
      q.limit,
    ],
  );
  return rows.map(toAuditEntry);
}
