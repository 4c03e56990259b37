/**
 * `node --import tsx bench/audit-reads.ts [rows]`: the audit log's two reads at a size a long
 * retention reaches (default 100,000 rows), on PGlite, before and after migration 6.
 *
 *   marks       the newest "marked bad" entries, which every promotion's plan reads
 *               (`badMarks`, src/core/bad-versions.ts): none exist here, the common case, so
 *               a read without an index on `action` walks the whole log
 *   operation   an early operation's entries (the board's operation page, verification)
 *
 * `after` is the store's own query (`SqlAuditLog.auditLog`) with the indexes of migration 6;
 * `before` the query as it was (one statement for any filter) without them. Times are the mean
 * of 5 reads after one unmeasured read (noisy on a shared machine); the rows read are the same.
 */

import { systemClock } from '../src/core/ports/clock.js';
import { openStore } from '../src/store/open-store.js';

const ROWS = Number(process.argv[2] ?? 100_000);
const BEFORE = `SELECT * FROM audit WHERE ($1::text IS NULL OR operation_id = $1) AND ($2::text IS NULL OR action = $2)
  ORDER BY id DESC LIMIT $3`;

async function mean(read: () => Promise<unknown[]>): Promise<{ ms: number; rows: number }> {
  const rows = (await read()).length;
  const t = performance.now();
  for (let i = 0; i < 5; i++) await read();
  return { ms: (performance.now() - t) / 5, rows };
}

const store = await openStore('pglite:memory', systemClock);
try {
  await store.db.query(
    `INSERT INTO audit (actor, action, operation_id, detail)
     SELECT 'U_DEMO', (ARRAY['requested', 'approved', 'state', 'command'])[1 + g % 4], 'op_' || (g / 10), '{}'::jsonb
     FROM generate_series(1, $1::int) g`,
    [ROWS],
  );
  const after = {
    marks: await mean(() => store.auditStore.auditLog({ action: 'marked-bad', limit: 1000 })),
    operation: await mean(() => store.auditStore.auditLog({ operationId: 'op_5', limit: 500 })),
  };
  await store.db.exec('DROP INDEX audit_operation; DROP INDEX audit_action;');
  const before = {
    marks: await mean(() => store.db.query(BEFORE, [null, 'marked-bad', 1000])),
    operation: await mean(() => store.db.query(BEFORE, ['op_5', null, 500])),
  };
  for (const read of ['marks', 'operation'] as const) {
    const b = before[read];
    const a = after[read];
    process.stdout.write(
      `${read.padEnd(10)} ${ROWS} audit rows: before ${b.ms.toFixed(2)} ms, after ${a.ms.toFixed(2)} ms (${b.rows} and ${a.rows} rows)\n`,
    );
  }
} finally {
  await store.close();
}
