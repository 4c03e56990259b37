/**
 * The state database and the store of each aggregate over it. This class only opens (migrates)
 * and closes the database and holds the stores; the SQL lives in one file per aggregate:
 *
 *   operations   ./operation-store.ts     approvals   ./approval-store.ts
 *   locks        ./lock-store.ts          audit log   ./audit-store.ts
 *   command log  ./command-log-store.ts   request keys, webhook deliveries ./idempotency-store.ts
 *   live state   ./live-state-store.ts    journal versions and imports     ./journal-store.ts
 *   API tokens   ./token-store.ts         the Slack inbox                  ./inbox-store.ts
 *
 * Each is written once against `Db`, so PGlite and PostgreSQL behave the same. Transactions
 * that span aggregates live in the store that starts them: an operation's state change and its
 * audit line (`SqlOperationStore.transition`), a request's reply and its command-log line
 * (`SqlIdempotencyStore.finishRequest`); the other store's file exports the insert they use.
 * The composition root (src/compose/) hands each part of the runtime the store it needs and
 * assembles the core's one-object `Store` port from these (src/compose/state.ts).
 */
import type { Clock } from '../core/ports.js';
import { SqlApprovalStore } from './approval-store.js';
import { SqlAuditLog } from './audit-store.js';
import { SqlCommandLog } from './command-log-store.js';
import type { Db } from './db.js';
import { SqlIdempotencyStore } from './idempotency-store.js';
import { InboxStore } from './inbox-store.js';
import { JournalStore } from './journal-store.js';
import { SqlLiveStateStore } from './live-state-store.js';
import { SqlLockStore } from './lock-store.js';
import { migrate } from './migrations.js';
import { SqlOperationStore } from './operation-store.js';
import { TokenStore } from './token-store.js';

// The row types are the core's (its store ports); re-exported for the store's own users.
export type {
  ApprovalRow,
  AuditEntry,
  CommandLogEntry,
  JournalImport,
  JournalVersion,
  LockRow,
} from '../core/ports.js';

export class StateStore {
  readonly operationStore: SqlOperationStore;
  readonly approvalStore: SqlApprovalStore;
  readonly lockStore: SqlLockStore;
  readonly auditStore: SqlAuditLog;
  readonly commandLogStore: SqlCommandLog;
  readonly idempotencyStore: SqlIdempotencyStore;
  readonly liveStateStore: SqlLiveStateStore;
  readonly journalStore: JournalStore;
  readonly tokenStore: TokenStore;
  readonly inboxStore: InboxStore;

  constructor(
    readonly db: Db,
    clock: Clock,
  ) {
    this.operationStore = new SqlOperationStore(db, clock);
    this.approvalStore = new SqlApprovalStore(db, clock);
    this.lockStore = new SqlLockStore(db, clock);
    this.auditStore = new SqlAuditLog(db, clock);
    this.commandLogStore = new SqlCommandLog(db, clock);
    this.idempotencyStore = new SqlIdempotencyStore(db, clock);
    this.liveStateStore = new SqlLiveStateStore(db, clock);
    this.journalStore = new JournalStore(db, clock);
    this.tokenStore = new TokenStore(db, clock);
    this.inboxStore = new InboxStore(db, clock);
  }

  /** Migrate the database (harmless when done already) and build the stores over it. */
  static async open(db: Db, clock: Clock): Promise<StateStore> {
    await migrate(db);
    return new StateStore(db, clock);
  }

  /** A PGlite folder has one process at a time (its folder lock). */
  get singleProcess(): boolean {
    return this.db.kind === 'pglite';
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
