/** What the controller last saw each (app, env) run, as a named state (table `live_state`). */
import type { Clock, LiveStateRow, LiveStateStore } from '../core/ports.js';
import type { Db } from './db.js';
import { iso } from './rows.js';

export class SqlLiveStateStore implements LiveStateStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /**
   * true when the state changed (and was written). A new detail under the same state (an
   * applier's newer revision, a replica count) is written too, but is no transition.
   */
  async setLiveState(app: string, env: string, state: string, detail: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO live_state (app, env, state, detail, since) VALUES ($1,$2,$3,$4,$5)
       ON CONFLICT (app, env) DO UPDATE SET state = $3, detail = $4, since = $5
       WHERE live_state.state IS DISTINCT FROM $3 RETURNING app`,
      [app, env, state, detail, this.clock.now().toISOString()],
    );
    if (rows.length === 1) return true;
    await this.db.query(
      'UPDATE live_state SET detail = $3 WHERE app = $1 AND env = $2 AND detail IS DISTINCT FROM $3',
      [app, env, detail],
    );
    return false;
  }

  async liveStates(): Promise<LiveStateRow[]> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM live_state');
    return rows.map((r) => ({
      app: String(r.app),
      env: String(r.env),
      state: String(r.state),
      detail: String(r.detail),
      since: iso(r.since),
    }));
  }
}
