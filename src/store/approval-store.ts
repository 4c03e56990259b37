/** Approvals (table `approvals`): one row per approver and approved sha; a second approval is a no-op. */
import type { ApprovalRow, ApprovalStore, Clock } from '../core/ports.js';
import type { Db } from './db.js';
import { iso } from './rows.js';

export class SqlApprovalStore implements ApprovalStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async addApproval(operationId: string, userId: string, role: string, sha: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO approvals (operation_id, user_id, role, sha, at) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING RETURNING user_id',
      [operationId, userId, role, sha, this.clock.now().toISOString()],
    );
    return rows.length === 1;
  }

  async approvals(operationId: string): Promise<ApprovalRow[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM approvals WHERE operation_id = $1 ORDER BY at',
      [operationId],
    );
    return rows.map(toApproval);
  }

  async approvalsOf(operationIds: string[]): Promise<Map<string, ApprovalRow[]>> {
    const byOperation = new Map<string, ApprovalRow[]>();
    if (operationIds.length === 0) return byOperation;
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM approvals WHERE operation_id = ANY($1::text[]) ORDER BY at',
      [operationIds],
    );
    for (const r of rows) {
      const id = String(r.operation_id);
      byOperation.set(id, [...(byOperation.get(id) ?? []), toApproval(r)]);
    }
    return byOperation;
  }
}

function toApproval(r: Record<string, unknown>): ApprovalRow {
  return { userId: String(r.user_id), role: String(r.role), sha: String(r.sha), at: iso(r.at) };
}
