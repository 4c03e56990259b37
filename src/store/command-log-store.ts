/**
 * The command log (table `command_log`): one line per command received; with a request key
 * (idempotency key or inbox id), one line per request however often it runs. Lines of a burst
 * are written by one statement (./group-insert.ts); the idempotency store writes a request's
 * line inside its own transaction with `appendCommandLine(tx, …)`, or in its own statement with `commandLineInsert`.
 */
import type { AuditLog, Clock, CommandLogEntry, CommandLogLine } from '../core/ports.js';
import type { Db } from './db.js';
import { GroupInsert } from './group-insert.js';
import { iso } from './rows.js';

/** The command-log half of the core's AuditLog port (the audit log is ./audit-store.ts). */
export type CommandLogPort = Pick<AuditLog, 'logCommand' | 'commandLog' | 'commandLogFor'>;

const COLUMNS = '(at, actor, source, text, outcome, detail, request_key)';

const valuesOf = (at: string, entry: CommandLogEntry): unknown[] => [
  at,
  entry.actor,
  entry.source,
  entry.text.slice(0, 4000),
  entry.outcome,
  entry.detail ?? null,
  entry.requestKey ?? null,
];

/** One line on `db` (a transaction of another aggregate), not grouped with others. */
/** The command-log insert as SQL with its parameters numbered from `first` (for one-statement writes). */
export function commandLineInsert(
  at: string,
  entry: CommandLogEntry,
  first: number,
): { sql: string; params: unknown[] } {
  const params = valuesOf(at, entry);
  const marks = params.map((_, i) => `$${first + i}`).join(',');
  return { sql: `INSERT INTO command_log ${COLUMNS} VALUES (${marks}) ON CONFLICT DO NOTHING`, params };
}

export async function appendCommandLine(db: Db, at: string, entry: CommandLogEntry): Promise<void> {
  await db.query(
    `INSERT INTO command_log ${COLUMNS} VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
    valuesOf(at, entry),
  );
}

const toLine = (r: Record<string, unknown>): CommandLogLine => ({
  actor: String(r.actor),
  text: String(r.text),
  outcome: String(r.outcome),
  at: iso(r.at),
});

export class SqlCommandLog implements CommandLogPort {
  /** Lines of a burst, written together (outside a transaction). */
  private readonly lines: GroupInsert<void>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.lines = new GroupInsert<void>(db, {
      head: `INSERT INTO command_log ${COLUMNS} VALUES`,
      tail: 'ON CONFLICT DO NOTHING',
      width: 7,
      settle: (_rows, batch) => batch.map(() => undefined),
    });
  }

  /** Resolves once the line is committed (lines of one burst share a statement). */
  async logCommand(entry: CommandLogEntry): Promise<void> {
    return this.lines.add(valuesOf(this.clock.now().toISOString(), entry));
  }

  async commandLogFor(requestKey: string): Promise<CommandLogLine[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM command_log WHERE request_key = $1', [
      requestKey,
    ]);
    return rows.map(toLine);
  }

  async commandLog(limit = 50): Promise<CommandLogLine[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM command_log ORDER BY id DESC LIMIT $1', [
      limit,
    ]);
    return rows.map(toLine);
  }
}
