/**
 * The durable inbox (seed 002's gateway): every Slack request Conveyor acks is written here
 * first, under the id Slack's retries share (team + trigger id, or the view id), so a retry
 * finds its first delivery instead of a second request. A worker runs each item and records
 * its reply before delivering it; an item accepted but unfinished when the process died is
 * picked up by the next sweep.
 *
 *   accepted → (command ran, reply stored) delivering → done
 *                                                     ↘ failed (after MAX_ATTEMPTS)
 */
import type { Clock } from '../core/ports.js';
import type { Db } from './db.js';
import { GroupInsert } from './group-insert.js';

export type InboxState = 'accepted' | 'delivering' | 'done' | 'failed';

export interface InboxItem<P = Record<string, unknown>> {
  id: string;
  kind: string;
  payload: P;
  state: InboxState;
  reply: unknown | null;
  attempts: number;
  acceptedAt: string;
}

/** Attempts before an item is given up (and the user told so). */
export const INBOX_MAX_ATTEMPTS = 5;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

function toItem(r: Record<string, unknown>): InboxItem {
  return {
    id: String(r.id),
    kind: String(r.kind),
    payload: (r.payload ?? {}) as Record<string, unknown>,
    state: r.state as InboxState,
    reply: r.reply ?? null,
    attempts: Number(r.attempts),
    acceptedAt: iso(r.accepted_at),
  };
}

export class InboxStore {
  /** Accepts of one burst written together (group commit); each resolves once its row is committed. */
  private readonly accepts: GroupInsert<boolean>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.accepts = new GroupInsert<boolean>(db, {
      head: 'INSERT INTO inbox (id, kind, payload, state, accepted_at, updated_at, claimed_by, claimed_until) VALUES',
      tail: 'ON CONFLICT DO NOTHING RETURNING id',
      width: 8,
      settle: (rows, batch) => {
        const fresh = new Set(rows.map((r) => String(r.id)));
        return batch.map((values) => fresh.delete(String(values[0]))); // an id twice in one batch: only the first is new
      },
    });
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  /**
   * Write an item before its ack; false when this id was accepted before (a retry). With
   * `claim`, the item is born claimed by that worker (it runs it next, without a claim query).
   * Accepts of the same burst are written by one statement; each still resolves only once its
   * own row is committed. `acceptedAt`: when it was acked, if that was before this write (the
   * Slack worker's accept log, src/server/slack-accept-log.ts).
   */
  accept(
    id: string,
    kind: string,
    payload: Record<string, unknown>,
    claim: { worker: string; ms: number } | null = null,
    acceptedAt?: Date,
  ): Promise<boolean> {
    const now = this.clock.now();
    return this.accepts.add([
      id,
      kind,
      JSON.stringify(payload),
      'accepted',
      (acceptedAt ?? now).toISOString(),
      now.toISOString(),
      claim?.worker ?? null,
      claim ? new Date(now.getTime() + claim.ms).toISOString() : null,
    ]);
  }

  /**
   * Take an unfinished item for `worker` until `ms` from now; null when done or held by
   * another live worker. An item accepted with a claim for this worker is taken as it is.
   */
  async claim(id: string, worker: string, ms: number): Promise<InboxItem | null> {
    const now = this.clock.now();
    const rows = await this.db.query<Record<string, unknown>>(
      `UPDATE inbox SET claimed_by = $2, claimed_until = $3, attempts = attempts + 1, updated_at = $4
       WHERE id = $1 AND state IN ('accepted', 'delivering')
         AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < $4) RETURNING *`,
      [id, worker, new Date(now.getTime() + ms).toISOString(), now.toISOString()],
    );
    return rows[0] ? toItem(rows[0]) : null;
  }

  /** The command ran: its reply is kept, so a restart delivers this reply instead of running it again. */
  async saveReply(id: string, reply: unknown): Promise<void> {
    await this.db.query(`UPDATE inbox SET reply = $2, state = 'delivering', updated_at = $3 WHERE id = $1`, [
      id,
      JSON.stringify(reply),
      this.now(),
    ]);
  }

  private readonly doneLater = new Set<string>();
  private doneTimer: NodeJS.Timeout | null = null;

  /**
   * Mark an item done soon, together with others (one UPDATE for a burst). Safe to lose in a
   * crash: the item then runs again, and its delivery is skipped by the delivery log.
   */
  finishSoon(id: string): void {
    this.doneLater.add(id);
    this.doneTimer ??= setTimeout(() => void this.flushDone(), 50);
  }

  /** Write the done marks still waiting (shutdown calls this). */
  async flushDone(): Promise<void> {
    if (this.doneTimer) clearTimeout(this.doneTimer);
    this.doneTimer = null;
    const ids = [...this.doneLater];
    this.doneLater.clear();
    if (!ids.length) return;
    await this.db
      .query(
        `UPDATE inbox SET state = 'done', claimed_by = NULL, claimed_until = NULL, updated_at = $2 WHERE id = ANY($1)`,
        [ids, this.now()],
      )
      .catch(() => undefined);
  }

  async finish(id: string, state: 'done' | 'failed', error: string | null = null): Promise<void> {
    await this.db.query(
      'UPDATE inbox SET state = $2, error = $3, claimed_by = NULL, claimed_until = NULL, updated_at = $4 WHERE id = $1',
      [id, state, error, this.now()],
    );
  }

  /** Give an item back (a failed attempt): the next sweep tries again. */
  async release(id: string, worker: string, error: string): Promise<void> {
    await this.db.query(
      'UPDATE inbox SET claimed_by = NULL, claimed_until = NULL, error = $3, updated_at = $4 WHERE id = $1 AND claimed_by = $2',
      [id, worker, error, this.now()],
    );
  }

  /** Ids of unfinished items nobody live holds, oldest first. */
  async open(limit = 100): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM inbox WHERE state IN ('accepted', 'delivering') AND (claimed_by IS NULL OR claimed_until < $1)
       ORDER BY accepted_at LIMIT $2`,
      [this.now(), limit],
    );
    return rows.map((r) => r.id);
  }

  /** Drop every claim (only safe when this process is the store's only user: a PGlite folder). */
  async releaseAll(): Promise<void> {
    await this.db.query(`UPDATE inbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by IS NOT NULL`);
  }

  async get(id: string): Promise<InboxItem | null> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM inbox WHERE id = $1', [id]);
    return rows[0] ? toItem(rows[0]) : null;
  }

  async count(states: InboxState[]): Promise<number> {
    const rows = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox WHERE state = ANY($1)', [
      states,
    ]);
    return Number(rows[0]?.n ?? 0);
  }
}
