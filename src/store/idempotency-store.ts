/**
 * Request keys (table `idempotency`: same key, same answer) and webhook deliveries (table
 * `deliveries`: each handled once).
 *
 * Spans two aggregates in one statement: `finishRequest` writes a request's reply and its
 * command-log line (./command-log-store.ts) together or not at all.
 */
import type { Clock, CommandLogEntry, IdempotencyStore, RequestKeyClaim } from '../core/ports.js';
import { commandLineInsert } from './command-log-store.js';
import type { Db } from './db.js';
import { iso } from './rows.js';

export class SqlIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Claim a key; false when it was seen before. */
  async claimKey(key: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO idempotency (key, at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING key',
      [key, this.clock.now().toISOString()],
    );
    return rows.length === 1;
  }

  /**
   * Claim a request key for a request (its fingerprint) on behalf of a worker. Claimed: the
   * caller runs it. Otherwise what is known of the earlier claim: its fingerprint (another
   * request under the same key is a conflict), its reply once there is one, who holds it.
   */
  async claimRequestKey(key: string, fingerprint: string, worker: string): Promise<RequestKeyClaim> {
    const rows = await this.db.query(
      'INSERT INTO idempotency (key, at, fingerprint, claimed_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING key',
      [key, this.clock.now().toISOString(), fingerprint, worker],
    );
    if (rows.length === 1) return { claimed: true };
    const [row] = await this.db.query<Record<string, unknown>>('SELECT * FROM idempotency WHERE key = $1', [key]);
    if (!row) return this.claimRequestKey(key, fingerprint, worker);
    return {
      claimed: false,
      fingerprint: (row.fingerprint as string | null) ?? null,
      reply: row.reply ?? null,
      claimedBy: (row.claimed_by as string | null) ?? null,
      at: iso(row.at),
    };
  }

  /** The fingerprint of the request that took a key, if any took it. */
  async requestKeyFingerprint(key: string): Promise<string | null> {
    const rows = await this.db.query<{ fingerprint: string | null }>(
      'SELECT fingerprint FROM idempotency WHERE key = $1',
      [key],
    );
    return rows[0]?.fingerprint ?? null;
  }

  /** Take over a key whose claimant died before it answered; false when someone else did first. */
  async takeOverKey(key: string, worker: string, from: string | null): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE idempotency SET claimed_by = $2, at = $4 WHERE key = $1 AND reply IS NULL AND claimed_by IS NOT DISTINCT FROM $3 RETURNING key',
      [key, worker, from, this.clock.now().toISOString()],
    );
    return rows.length === 1;
  }

  /** The answer to a request and its command-log line, together or not at all. */
  async finishRequest(key: string, reply: unknown, entry: CommandLogEntry): Promise<void> {
    // One statement, so both or neither.
    const line = commandLineInsert(this.clock.now().toISOString(), { ...entry, requestKey: key }, 3);
    await this.db.query(
      `WITH replied AS (UPDATE idempotency SET reply = $2 WHERE key = $1 RETURNING key) ${line.sql}`,
      [key, JSON.stringify(reply), ...line.params],
    );
  }

  async saveKeyReply(key: string, reply: unknown): Promise<void> {
    await this.db.query('UPDATE idempotency SET reply = $2 WHERE key = $1', [key, JSON.stringify(reply)]);
  }

  async keyReply(key: string): Promise<unknown | undefined> {
    const rows = await this.db.query<{ reply: unknown }>('SELECT reply FROM idempotency WHERE key = $1', [key]);
    return rows[0]?.reply ?? undefined;
  }

  async forgetKey(key: string): Promise<void> {
    await this.db.query('DELETE FROM idempotency WHERE key = $1 AND reply IS NULL', [key]);
  }

  /** Remember a webhook delivery id; false when it was delivered before. */
  async claimDelivery(id: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO deliveries (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id',
      [id, this.clock.now().toISOString()],
    );
    return rows.length === 1;
  }
}
