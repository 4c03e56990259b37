/**
 * `node --import tsx bench/retention-plan.ts [rows]`: what one retention pass
 * (src/store/retention.ts) reads on a real PostgreSQL, before and after migration 5.
 *
 * A throwaway server (test/support/postgres.ts) gets one database with `rows` rows per pruned
 * table (default 200,000), written in time order as the server writes them, spread over each
 * window plus the 6 hours between two passes: the steady state, where a pass finds the rows of
 * those 6 hours to delete. Each variant runs a whole pass on its own copy of that database
 * (CREATE DATABASE … TEMPLATE), every batch under EXPLAIN (ANALYZE, BUFFERS):
 *
 *   before   the batch statement as it was (`key IN (SELECT …)`), no index on `at`
 *   index    the same statement with migration 5's indexes
 *   after    the current statement (`key = ANY(ARRAY(SELECT …))`) with the indexes
 *
 * Prints per table and variant: batches, rows deleted, rows the scans read (returned or thrown
 * away by a filter), shared buffers touched (an index lookup per key touches a few), execution
 * time (noisy on a shared machine); then the plan of each variant's last batch of each table.
 */
import pg from 'pg';
import { migrate } from '../src/store/migrations.js';
import { openPostgres } from '../src/store/postgres-db.js';
import { DEFAULT_RETENTION, pruneBatchSql, RETENTION_TABLES } from '../src/store/retention.js';
import { startPostgres } from '../test/support/postgres.js';

const ROWS = Number(process.argv[2] ?? 200_000);
const BATCH = 1000;
const HOUR_MS = 3_600_000;
/** The windows of the pass: the defaults, and 90 days for the audit log (kept by default). */
const DAYS: Record<string, number> = { idempotency: 7, command_log: 90, deliveries: 7, audit: 90, inbox: 7 };
const INDEXES = ['idempotency_at', 'command_log_at', 'deliveries_at', 'audit_at', 'inbox_finished'];

type Table = (typeof RETENTION_TABLES)[number];

/** The batch statement before this change: the outer DELETE could pick a hash join over the whole table. */
const inSubquery = (t: Table) =>
  pruneBatchSql(t).replace(/= ANY\(ARRAY\((SELECT .*)\)\) RETURNING/, 'IN ($1) RETURNING');

const VARIANTS: Array<{ name: string; indexes: boolean; sql: (t: Table) => string }> = [
  { name: 'before', indexes: false, sql: inSubquery },
  { name: 'index', indexes: true, sql: inSubquery },
  { name: 'after', indexes: true, sql: pruneBatchSql },
];

interface Tally {
  batches: number;
  deleted: number;
  read: number;
  buffers: number;
  ms: number;
  lastPlan: string[];
}

const sum = (lines: string[], re: RegExp) => lines.reduce((n, l) => n + Number(re.exec(l)?.[1] ?? 0), 0);

/** Rows the plan's table scans read: those they returned and those a filter threw away (× loops). */
function rowsRead(plan: string[]): number {
  let total = 0;
  let loops = 0;
  for (const line of plan) {
    const scan =
      /(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan) .*actual time=\S+ rows=(\d+) loops=(\d+)/.exec(line);
    if (scan) {
      loops = Number(scan[2]);
      total += Number(scan[1]) * loops;
    } else if (/->/.test(line)) loops = 0;
    const removed = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(line);
    if (removed) total += Number(removed[1]) * loops;
  }
  return total;
}

async function fill(url: string): Promise<void> {
  const db = await openPostgres(url);
  try {
    await migrate(db);
    // Row i of n written at now − (window + 6 h) × (1 − i/n): oldest first, as they were written.
    const at = (table: string) =>
      `now() - ${(DAYS[table]! * 24 + 6) * HOUR_MS} * (1 - i::float8 / ${ROWS}) * interval '1 millisecond'`;
    await db.exec(`
      INSERT INTO idempotency (key, reply, at)
        SELECT 'k' || i, '{}'::jsonb, ${at('idempotency')} FROM generate_series(1, ${ROWS}) i;
      INSERT INTO command_log (at, actor, source, text, outcome)
        SELECT ${at('command_log')}, 'U1', 'slack', 'list', 'ok' FROM generate_series(1, ${ROWS}) i;
      INSERT INTO deliveries (id, at) SELECT 'd' || i, ${at('deliveries')} FROM generate_series(1, ${ROWS}) i;
      INSERT INTO audit (at, actor, action)
        SELECT ${at('audit')}, 'U1', 'operation.requested' FROM generate_series(1, ${ROWS}) i;
      INSERT INTO inbox (id, kind, payload, state, accepted_at, updated_at)
        SELECT 'i' || i, 'command', '{}'::jsonb, CASE WHEN i % 50 = 0 THEN 'accepted' ELSE 'done' END, t, t
        FROM (SELECT i, ${at('inbox')} AS t FROM generate_series(1, ${ROWS}) i) s;
    `);
  } finally {
    await db.close();
  }
}

async function pass(url: string, variant: (typeof VARIANTS)[number]): Promise<Map<string, Tally>> {
  const db = await openPostgres(url);
  const out = new Map<string, Tally>();
  try {
    if (!variant.indexes) for (const index of INDEXES) await db.exec(`DROP INDEX ${index}`);
    await db.exec('ANALYZE');
    const now = Date.now();
    for (const t of RETENTION_TABLES) {
      const before = new Date(now - DAYS[t.table]! * 24 * HOUR_MS).toISOString();
      const tally: Tally = { batches: 0, deleted: 0, read: 0, buffers: 0, ms: 0, lastPlan: [] };
      for (let i = 0; i < 1000; i++) {
        const plan = (
          await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${variant.sql(t)}`, [before])
        ).map((r) => r['QUERY PLAN']);
        const deleted = Number(/actual time=\S+ rows=(\d+)/.exec(plan[0] ?? '')?.[1] ?? 0);
        tally.batches++;
        tally.deleted += deleted;
        tally.read += rowsRead(plan);
        // The top node's buffers count everything below it.
        const top = plan.find((l) => /^\s{0,2}Buffers:/.test(l)) ?? '';
        tally.buffers += sum([top], /hit=(\d+)/) + sum([top], /read=(\d+)/);
        tally.ms += sum(plan, /^Execution Time: ([\d.]+)/);
        tally.lastPlan = plan;
        if (deleted < BATCH) break;
      }
      out.set(t.table, tally);
    }
  } finally {
    await db.close();
  }
  return out;
}

async function main(): Promise<void> {
  if (DEFAULT_RETENTION.idempotencyDays !== DAYS.idempotency) throw new Error('the default windows changed');
  const server = await startPostgres();
  try {
    const filled = await server.createDatabase('retention_filled');
    await fill(filled);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const results = new Map<string, Map<string, Tally>>();
    try {
      for (const v of VARIANTS) {
        await admin.query(`CREATE DATABASE retention_${v.name} TEMPLATE retention_filled`);
        results.set(v.name, await pass(filled.replace(/retention_filled$/, `retention_${v.name}`), v));
      }
    } finally {
      await admin.end();
    }
    const rows = [`${ROWS} rows per table; a pass, batch by batch`, ''];
    rows.push(
      ['table', 'variant', 'batches', 'deleted', 'rows read', 'buffers', 'ms'].map((c) => c.padEnd(13)).join(''),
    );
    for (const t of RETENTION_TABLES) {
      for (const v of VARIANTS) {
        const r = results.get(v.name)!.get(t.table)!;
        rows.push(
          [t.table, v.name, r.batches, r.deleted, r.read, r.buffers, r.ms.toFixed(1)]
            .map((c) => String(c).padEnd(13))
            .join(''),
        );
      }
    }
    for (const t of RETENTION_TABLES) {
      for (const v of VARIANTS)
        rows.push('', `--- ${t.table}, ${v.name}: last batch`, ...results.get(v.name)!.get(t.table)!.lastPlan);
    }
    console.log(rows.join('\n'));
  } finally {
    await server.stop();
  }
}

await main();
