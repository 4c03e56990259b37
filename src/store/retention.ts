/**
 * Retention for the tables that only grow: idempotency keys, the command log and webhook
 * deliveries are pruned once older than their window; the audit log is kept (its window is
 * null by default: pruning it is a policy decision, made explicitly). Rows still in use are
 * never pruned: an idempotency key whose reply is not written yet (a command in flight) stays.
 * Deletes go in batches by primary key, so neither PGlite nor PostgreSQL holds a long lock.
 *
 * The windows are compared with the `at` column of each table (the inbox: `updated_at` of its
 * finished items), each indexed (migration 5 in ./migrations.ts), so a batch reads only rows
 * past their window instead of scanning the table.
 */
import type { Db } from './db.js';

export interface RetentionPolicy {
  /** Idempotency keys (and their stored replies); Slack and CLI retries come within minutes. */
  idempotencyDays: number | null;
  /** One line per command received. */
  commandLogDays: number | null;
  /** Webhook delivery ids seen (duplicates are only ever redelivered within hours). */
  deliveriesDays: number | null;
  /** The audit log: kept unless a window is set. */
  auditDays: number | null;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  idempotencyDays: 7,
  commandLogDays: 90,
  deliveriesDays: 7,
  auditDays: null,
};

const DAY_MS = 86_400_000;
const BATCH = 1000;

/** table, key column, extra condition that keeps a row in use */
export const RETENTION_TABLES: Array<{
  policy: keyof RetentionPolicy;
  table: string;
  key: string;
  column?: string;
  keep?: string;
}> = [
  { policy: 'idempotencyDays', table: 'idempotency', key: 'key', keep: 'reply IS NOT NULL' },
  { policy: 'commandLogDays', table: 'command_log', key: 'id' },
  { policy: 'deliveriesDays', table: 'deliveries', key: 'id' },
  { policy: 'auditDays', table: 'audit', key: 'id' },
  // Slack requests answered (or given up): their payload and reply are no longer needed.
  { policy: 'idempotencyDays', table: 'inbox', key: 'id', column: 'updated_at', keep: "state IN ('done', 'failed')" },
];

/**
 * One batch of a table's prune: at most BATCH rows older than $1 (and not in use), deleted by
 * primary key. The keys are collected first (`= ANY(ARRAY(…))`) so the DELETE looks each one up
 * in the key's index; with `IN (SELECT …)` PostgreSQL may hash-join the whole table instead
 * (bench/retention-plan.ts shows both plans).
 */
export function pruneBatchSql(t: (typeof RETENTION_TABLES)[number]): string {
  const old = `${t.column ?? 'at'} < $1${t.keep ? ` AND ${t.keep}` : ''}`;
  return `DELETE FROM ${t.table} WHERE ${t.key} = ANY(ARRAY(SELECT ${t.key} FROM ${t.table} WHERE ${old} LIMIT ${BATCH})) RETURNING ${t.key} AS k`;
}

/** Rows deleted per table in one pass. */
export async function pruneRetention(
  db: Db,
  policy: RetentionPolicy = DEFAULT_RETENTION,
  now: Date = new Date(),
): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  for (const t of RETENTION_TABLES) {
    const days = policy[t.policy];
    if (days === null || !(days > 0)) continue;
    const before = new Date(now.getTime() - days * DAY_MS).toISOString();
    let total = 0;
    for (;;) {
      const rows = await db.query<{ k: unknown }>(pruneBatchSql(t), [before]);
      total += rows.length;
      if (rows.length < BATCH) break;
    }
    deleted[t.table] = total;
  }
  return deleted;
}

/** A pass now and then every `everyMs` (unref'd); returns the stop function. */
export function startRetention(
  db: Db,
  policy: RetentionPolicy = DEFAULT_RETENTION,
  options: { everyMs?: number; log?: { warn(obj: object, msg: string): void } } = {},
): () => void {
  const pass = () =>
    void pruneRetention(db, policy).catch((err) =>
      options.log?.warn({ err: (err as Error).message }, 'retention pass failed'),
    );
  const timer = setInterval(pass, options.everyMs ?? 6 * 3_600_000);
  timer.unref();
  pass();
  return () => clearInterval(timer);
}
