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

interface PendingAccept {
  id: string;
  kind: string;
  payload: string;
  claim: { worker: string; ms: number } | null;
  resolve(fresh: boolean): void;
  reject(err: unknown): void;
}

/** Rows per INSERT when a burst of acks is written together. */
const ACCEPT_BATCH = 100;

export class InboxStore {
  private readonly pending: PendingAccept[] = [];
  private flushing = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  private now(): string {
    return this.clock.now().toISOString();
  }

  /**
   * Write an item before its ack; false when this id was accepted before (a retry). With
   * `claim`, the item is born claimed by that worker (it runs it next, without a claim query).
   * Accepts that arrive while a write is under way are written together in the next one
   * (group commit): each still resolves only once its own row is committed.
   */
  accept(id: string, kind: string, payload: Record<string, unknown>, claim: { worker: string; ms: number } | null = null): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ id, kind, payload: JSON.stringify(payload), claim, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, ACCEPT_BATCH);
        const now = this.clock.now();
        const params: unknown[] = [];
        const values = batch.map((b) => {
          params.push(b.id, b.kind, b.payload, now.toISOString(), b.claim?.worker ?? null, b.claim ? new Date(now.getTime() + b.claim.ms).toISOString() : null);
          const n = params.length;
          return `($${n - 5},$${n - 4},$${n - 3},'accepted',$${n - 2},$${n - 2},$${n - 1},$${n})`;
        });
        try {
          const rows = await this.db.query<{ id: string }>(
            `INSERT INTO inbox (id, kind, payload, state, accepted_at, updated_at, claimed_by, claimed_until) VALUES ${values.join(',')}
             ON CONFLICT DO NOTHING RETURNING id`,
            params,
          );
          const fresh = new Set(rows.map((r) => r.id));
          for (const b of batch) {
            b.resolve(fresh.delete(b.id)); // an id twice in one batch: only the first is new
          }
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
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
      id, JSON.stringify(reply), this.now(),
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
      .query(`UPDATE inbox SET state = 'done', claimed_by = NULL, claimed_until = NULL, updated_at = $2 WHERE id = ANY($1)`, [ids, this.now()])
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
    const rows = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox WHERE state = ANY($1)', [states]);
    return Number(rows[0]?.n ?? 0);
  }
}
