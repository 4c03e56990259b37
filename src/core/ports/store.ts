/**
 * The state store as the core sees it: one object answering for every aggregate (each its own
 * port, so a piece of code can ask for only the part it uses).
 */
import type { ApprovalStore } from './approvals.js';
import type { AuditLog } from './audit.js';
import type { IdempotencyStore } from './idempotency.js';
import type { LiveStateStore } from './live-states.js';
import type { LockStore } from './locks.js';
import type { OperationStore } from './operations.js';

export interface Store extends OperationStore, ApprovalStore, LockStore, AuditLog, IdempotencyStore, LiveStateStore {
  /**
   * One process at a time uses this store (an embedded PGlite folder): a claim held by any
   * other process is stale.
   */
  readonly singleProcess: boolean;
  close(): Promise<void>;
}
