/**
 * Live refresh of the board: `GET /events` is a server-sent event stream that says `change`
 * whenever an operation moved or an audit line was written. One poller reads the store's
 * high-water marks (newest audit id, newest operation update) once a second, and only while
 * someone is watching; it works the same when another replica did the change.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../../store/db.js';

export const MAX_WATCHERS = 200;

export class ChangeFeed {
  private readonly watchers = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private last: string | null = null;
  private polling = false;

  constructor(
    private readonly db: Db,
    private readonly everyMs = 1_000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  /** The marks that move when anything the board shows moves. */
  async mark(): Promise<string> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT (SELECT max(id) FROM audit) AS audit, (SELECT max(updated_at) FROM operations) AS ops,
              (SELECT count(*) FROM operations) AS n`,
    );
    const r = rows[0] ?? {};
    const ops = r.ops instanceof Date ? r.ops.toISOString() : String(r.ops ?? '');
    return `${String(r.audit ?? 0)}:${ops}:${String(r.n ?? 0)}`;
  }

  /** Serve one watcher until it goes away. False when too many are watching already. */
  async watch(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (this.watchers.size >= MAX_WATCHERS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n: watching\n\n');
    this.watchers.add(res);
    req.socket.setKeepAlive(true);
    const gone = () => {
      this.watchers.delete(res);
      if (!this.watchers.size) this.stop();
    };
    res.once('close', gone);
    if (!this.timer) {
      this.last = await this.mark().catch(() => null);
      this.timer = setInterval(() => void this.poll(), this.everyMs);
      this.timer.unref();
      this.heartbeat = setInterval(() => this.send(': still here\n\n'), 25_000);
      this.heartbeat.unref();
    }
    return true;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = await this.mark();
      if (now !== this.last) {
        this.last = now;
        this.send(`event: change\ndata: ${now}\n\n`);
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.polling = false;
    }
  }

  private send(text: string): void {
    for (const res of this.watchers) {
      if (!res.writableEnded) res.write(text);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
  }

  /** End every stream (serve is stopping). */
  close(): void {
    this.stop();
    for (const res of this.watchers) res.end();
    this.watchers.clear();
  }
}
