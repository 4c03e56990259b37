/**
 * Leadership over a PostgreSQL session-level advisory lock, on a dedicated connection: the
 * replica whose `pg_try_advisory_lock` succeeds leads for as long as its session lives. When
 * the process dies its session ends, PostgreSQL frees the lock, and the next replica that
 * tries (every `retryMs`) takes over. A leader checks its session every `checkMs` and steps
 * down the moment the connection fails: it cannot know whether it still holds the lock.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Log } from '../core/ports.js';
import { CampaignLeadership } from './campaign-leadership.js';

export type PgLeadershipLog = Pick<Log, 'warn'> & Partial<Pick<Log, 'info'>>;

export interface PgLeadershipOptions {
  /** postgres:// URL (from DATABASE_URL or state.url; never logged). */
  connectionString: string;
  /** Name of the lock; replicas of one deployment share it. Default "conveyor-controller". */
  name?: string;
  /** How often a follower tries to take the lock. Default 5000. */
  retryMs?: number;
  /** How often the leader checks its session. Default 5000. */
  checkMs?: number;
  log?: PgLeadershipLog;
  /** Test seam: build the client (default `new pg.Client`). */
  createClient?: (config: pg.ClientConfig) => pg.Client;
}

/** A signed 64-bit key for the lock name (as a decimal string for the `bigint` parameter). */
export function advisoryKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

export class PgLeadership extends CampaignLeadership {
  private client: pg.Client | null = null;
  private readonly key: string;

  constructor(private readonly options: PgLeadershipOptions) {
    super();
    this.key = advisoryKey(options.name ?? 'conveyor-controller');
  }

  async stop(): Promise<void> {
    await this.halt();
    const client = this.client;
    this.client = null;
    this.setLeader(false);
    if (client) {
      // Ending the session releases the lock at once; an explicit unlock first is polite.
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  protected nextTickMs(): number {
    return this.leader ? (this.options.checkMs ?? 5000) : (this.options.retryMs ?? 5000);
  }

  private async connect(): Promise<pg.Client> {
    const config: pg.ClientConfig = { connectionString: this.options.connectionString, keepAlive: true };
    const client = this.options.createClient?.(config) ?? new pg.Client(config);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    await client.connect();
    return client;
  }

  /** The session is gone: whatever we held is no longer ours. */
  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.leader) this.options.log?.warn({ err: err.message }, 'leadership lost: the database session ended');
    this.setLeader(false);
    client.end().catch(() => undefined);
  }

  protected async tick(): Promise<void> {
    try {
      if (!this.client) this.client = await this.connect();
      const client = this.client;
      if (this.leader) {
        await client.query('SELECT 1');
        return;
      }
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
        this.key,
      ]);
      if (rows[0]?.locked && this.running && this.client === client) {
        this.options.log?.info?.({}, 'leadership acquired (PostgreSQL advisory lock)');
        this.setLeader(true);
      }
    } catch (err) {
      const client = this.client;
      if (client) this.lost(client, err as Error);
      else this.options.log?.warn({ err: (err as Error).message }, 'cannot reach PostgreSQL for leadership');
    }
  }
}
