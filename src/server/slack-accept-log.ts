/**
 * The embedded store's write-ahead for Slack requests (ADR 0006): with a PGlite folder, a
 * request is acked once one line naming it is appended to a file beside the store, and its inbox
 * row is written after the ack, by the work that runs it (one batched insert for a burst, not one
 * statement per ack in front of it). PGlite runs without fsync, so the row itself is only as
 * durable as the operating system's page cache: the line is written the same way (one `write`
 * that has returned before the ack), and survives the process just as the row would.
 *
 * A process that starts takes over what its predecessor left: the lines still in the file move
 * to `<file>.replay` (appended to one left by a start that died itself), the file starts empty,
 * and `leftover()` hands them to the worker, which writes their rows (a retry of a row written
 * before is a no-op) and then calls `replayed()`. While running, the file is emptied whenever
 * every line in it has its row and it has grown past `truncateAt` bytes.
 *
 *   const log = AcceptLog.open('/var/lib/conveyor/state.slack-accepts');
 *   log.append({ id, kind: 'command', payload, at: Date.now() }); // then ack
 *   // …the row is written…
 *   log.settle();
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';

/** One acked request, as its line in the log has it. */
export interface LoggedRequest {
  id: string;
  kind: 'command' | 'action';
  payload: Record<string, unknown>;
  /** When it was acked (ms since the epoch). */
  at: number;
}

function parseLines(text: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as Partial<LoggedRequest>;
      if (
        typeof e.id === 'string' &&
        (e.kind === 'command' || e.kind === 'action') &&
        e.payload &&
        typeof e.payload === 'object' &&
        typeof e.at === 'number'
      )
        out.push(e as LoggedRequest);
    } catch {
      // a line cut short by a full disk; the request it began was never acked
    }
  }
  return out;
}

export class AcceptLog {
  private fd: number | null = null;
  private closed = false;
  /** The last write was cut short: its line has no end yet. */
  private torn = false;
  /** Lines appended whose rows are not written yet. */
  private unsettled = 0;
  private taken: LoggedRequest[] = [];

  private constructor(
    private readonly file: string | undefined,
    private readonly truncateAt: number,
  ) {}

  /**
   * The log at `file` (created 0600 if missing), after taking over what a stopped process left;
   * no file (an in-memory store, which keeps nothing across a stop either): appends are no-ops.
   */
  static open(file: string | undefined, options: { truncateAt?: number } = {}): AcceptLog {
    const log = new AcceptLog(file, options.truncateAt ?? 256 * 1024);
    if (!file) return log;
    const replay = `${file}.replay`;
    const left = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const before = existsSync(replay) ? readFileSync(replay, 'utf8') : '';
    if (left) {
      // written whole before the live file is emptied: a crash in between replays lines twice,
      // which only writes rows that are already there
      const joined = before && !before.endsWith('\n') ? `${before}\n${left}` : before + left;
      writeFileSync(`${replay}.tmp`, joined, { mode: 0o600 });
      renameSync(`${replay}.tmp`, replay);
    }
    writeFileSync(file, '', { mode: 0o600 });
    log.fd = openSync(file, 'a', 0o600); // appends go to the end, also after a truncation
    log.taken = parseLines(before + (before && !before.endsWith('\n') ? '\n' : '') + left);
    return log;
  }

  /** What a stopped process acked and may not have stored, oldest first (once). */
  leftover(): LoggedRequest[] {
    const out = this.taken;
    this.taken = [];
    return out;
  }

  /** Every leftover has its row: the copy kept for them goes. */
  replayed(): void {
    if (this.file) rmSync(`${this.file}.replay`, { force: true });
  }

  /** One request, on disk (in the page cache) when this returns; throws if it cannot be written. */
  append(entry: LoggedRequest): void {
    if (this.closed) throw new Error('the Slack accept log is closed (the server is stopping)');
    if (this.fd === null) return;
    // After a short write (a full disk), the next line starts on a line of its own.
    const line = Buffer.from(`${this.torn ? '\n' : ''}${JSON.stringify(entry)}\n`);
    const written = writeSync(this.fd, line);
    this.torn = written < line.length;
    if (this.torn) throw new Error(`the Slack accept log took ${written} of ${line.length} bytes (is the disk full?)`);
    this.unsettled++;
  }

  /** One appended request has its row. */
  settle(): void {
    if (this.fd === null) return;
    this.unsettled = Math.max(0, this.unsettled - 1);
    if (this.unsettled === 0 && fstatSync(this.fd).size > this.truncateAt) ftruncateSync(this.fd, 0);
  }

  /** After this, `append` throws: a request that comes in then is not acked. */
  close(): void {
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
