/** Apply locks of (app, env): an operation's while it applies, or a manual one (`*` for every app). */
export interface LockRow {
  app: string;
  env: string;
  operationId: string | null;
  holder: string;
  reason: string;
  manual: boolean;
  at: string;
}

export interface LockStore {
  /** Take the lock for an operation: null on success, else the lock in the way. */
  acquireLock(app: string, env: string, operationId: string, holder: string, reason: string): Promise<LockRow | null>;
  releaseLock(app: string, env: string, operationId: string): Promise<void>;
  /** false when a manual lock is there already. */
  setManualLock(app: string, env: string, holder: string, reason: string): Promise<boolean>;
  /** false when there was no manual lock. */
  clearManualLock(app: string, env: string): Promise<boolean>;
  /** The locks on (app, env), manual ones (also `*`) first. */
  locksFor(app: string, env: string): Promise<LockRow[]>;
  allLocks(): Promise<LockRow[]>;
}
