/**
 * The journal import agent (`conveyor journal-agent --env qa`): follows its Consul key
 * (`journal_version/<env>`) with blocking queries; on a new version it downloads the journal
 * from the object store while hashing it, verifies the checksum, runs the import command
 * (never through a shell), remembers the imported version in a local state file and reports
 * the result to the bot.
 *
 * Rules: a version already imported is never imported again (also after a restart); a failed
 * import is reported once and not retried until the pointer is written again; download
 * failures are retried with bounded backoff; a report that cannot be delivered is kept in the
 * state file and sent later.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pRetry from 'p-retry';
import { z } from 'zod';
import { isConveyorError } from '../core/errors.js';
import type { KvEntry, KvStore, Log, ObjectStore } from '../core/ports.js';
import { type WatchBackoff, watchKey } from '../core/watch-key.js';

/** A journal version id: date, source, sequence, e.g. `2026.03.14-dev-model.2`. */
export const JOURNAL_VERSION = /^[0-9]{4}\.[0-9]{2}\.[0-9]{2}-[a-z0-9-]{1,40}\.[0-9]{1,6}$/;
/** How much of the import command's output is kept for the report. */
export const OUTPUT_TAIL_BYTES = 4096;
const SHA256 = /^[0-9a-f]{64}$/i;
const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export interface ResolvedVersion {
  objectKey: string;
  /** Hex SHA-256 recorded when the version was registered. */
  sha256: string;
  size: number;
  /** The original file name. */
  file: string;
}

export interface ImportReport {
  env: string;
  /** The version, or "(invalid)" when the pointer held something that is not a version. */
  version: string;
  ok: boolean;
  /** The command's exit code; null when it never ran or was killed. */
  exitCode: number | null;
  /** Download, verification and import together. */
  durationMs: number;
  outputTail: string;
  error?: string;
}

export type AgentLog = Pick<Log, 'info' | 'warn' | 'error'>;

export interface ImportAgentOptions {
  env: string;
  /** The Consul key followed, e.g. `journal_version/qa`. */
  key: string;
  kv: KvStore;
  objects: ObjectStore;
  resolveVersion: (version: string) => Promise<ResolvedVersion>;
  /** argv; the downloaded file replaces a `{file}` element, or is appended. */
  importCommand: string[];
  timeoutMs: number;
  /** Local JSON file recording the last imported version. */
  stateFile: string;
  report: (result: ImportReport) => Promise<void>;
  log?: AgentLog;
  signal?: AbortSignal;
  /** Where downloads go (a fresh folder per attempt, removed afterwards). Default: the OS temp dir. */
  workDir?: string;
  /** Blocking query wait. Default 5 min. */
  waitMs?: number;
  /** Backoff for the watch, downloads and reports. */
  backoff?: WatchBackoff;
  /** Download attempts after the first. Default 5. */
  downloadRetries?: number;
  /** Grace between SIGTERM and SIGKILL on timeout. Default 5 s. */
  killGraceMs?: number;
  /** Environment of the import command. Default: this process's. */
  commandEnv?: NodeJS.ProcessEnv;
}

const reportSchema = z.object({
  env: z.string(),
  version: z.string(),
  ok: z.boolean(),
  exitCode: z.number().int().nullable(),
  durationMs: z.number(),
  outputTail: z.string(),
  error: z.string().optional(),
});

const stateSchema = z.object({
  imported: z.object({ version: z.string(), sha256: z.string(), at: z.string() }).optional(),
  lastAttempt: z.object({ version: z.string(), modifyIndex: z.number(), ok: z.boolean(), at: z.string() }).optional(),
  pendingReport: reportSchema.optional(),
});

export type AgentState = z.infer<typeof stateSchema>;

const quietLog: AgentLog = { info() {}, warn() {}, error() {} };

class ImportFailure extends Error {}

export class ImportAgent {
  private state: AgentState = {};
  private readonly log: AgentLog;

  constructor(private readonly options: ImportAgentOptions) {
    if (options.importCommand.length === 0) throw new TypeError('importCommand needs at least the program');
    this.log = options.log ?? quietLog;
  }

  /** Follow the key until `signal` aborts. */
  async run(): Promise<void> {
    const { kv, key, signal, waitMs, backoff } = this.options;
    this.state = await this.loadState();
    await this.flushReport();
    const entries = watchKey(kv, key, {
      signal,
      waitMs,
      backoff,
      onError: (err, attempt) =>
        this.log.warn({ key, attempt, err: describe(err) }, 'journal pointer watch failed; retrying'),
    });
    for await (const entry of entries) {
      if (signal?.aborted) break;
      await this.flushReport();
      if (entry) await this.handle(entry);
      else this.log.info({ key }, 'journal pointer is not set');
    }
  }

  private async handle(entry: KvEntry): Promise<void> {
    const raw = entry.value.trim();
    const version = JOURNAL_VERSION.test(raw) ? raw : undefined;
    const last = this.state.lastAttempt;
    if (version !== undefined && version === this.state.imported?.version) {
      this.log.info({ version }, 'journal version already imported');
      return;
    }
    if (last && last.modifyIndex === entry.modifyIndex && last.version === (version ?? '')) {
      this.log.info(
        { version: version ?? '(invalid)' },
        'journal version already attempted; waiting for a new pointer',
      );
      return;
    }
    const started = performance.now();
    let result: ImportReport;
    if (version === undefined) {
      this.log.warn({ key: this.options.key, length: raw.length }, 'journal pointer holds an invalid version; ignored');
      result = this.failure(
        '(invalid)',
        started,
        `${this.options.key} holds an invalid version string (${raw.length} characters); ignored`,
      );
    } else {
      const attempt = await this.attempt(version, started);
      if (!attempt) return; // aborted: nothing happened that needs reporting
      result = attempt.report;
      if (result.ok) this.state.imported = { version, sha256: attempt.sha256, at: new Date().toISOString() };
    }
    this.state.lastAttempt = {
      version: version ?? '',
      modifyIndex: entry.modifyIndex,
      ok: result.ok,
      at: new Date().toISOString(),
    };
    this.state.pendingReport = result;
    await this.saveState();
    await this.flushReport();
  }

  /** Download, verify, import. Undefined when aborted. */
  private async attempt(
    version: string,
    started: number,
  ): Promise<{ report: ImportReport; sha256: string } | undefined> {
    const { signal } = this.options;
    const dir = await mkdtemp(join(this.options.workDir ?? tmpdir(), 'conveyor-journal-'));
    try {
      let resolved: ResolvedVersion;
      let file: string;
      try {
        resolved = parseResolved(await this.retry(() => this.options.resolveVersion(version), this.downloadRetries));
        file = join(dir, SAFE_FILE.test(resolved.file) ? resolved.file : `${version}.journal`);
        this.log.info({ version, objectKey: resolved.objectKey, size: resolved.size }, 'downloading journal');
        const got = await this.retry(() => this.download(resolved.objectKey, file), this.downloadRetries);
        const expected = resolved.sha256.toLowerCase();
        if (got.sha256 !== expected) {
          throw new ImportFailure(`checksum mismatch: expected sha256 ${expected}, got ${got.sha256}`);
        }
        if (got.size !== resolved.size) {
          throw new ImportFailure(`size mismatch: expected ${resolved.size} bytes, got ${got.size}`);
        }
      } catch (err) {
        if (signal?.aborted) return undefined;
        const error = err instanceof ImportFailure ? err.message : `download failed: ${describe(err)}`;
        this.log.error({ version, error }, 'journal not imported');
        return { report: this.failure(version, started, error), sha256: '' };
      }
      this.log.info({ version }, 'running journal import');
      const run = await this.runImport(version, file, resolved.sha256);
      if (signal?.aborted) return undefined;
      const report: ImportReport = {
        env: this.options.env,
        version,
        ok: run.error === undefined,
        exitCode: run.exitCode,
        durationMs: Math.round(performance.now() - started),
        outputTail: run.outputTail,
        ...(run.error === undefined ? {} : { error: run.error }),
      };
      this.log[report.ok ? 'info' : 'error'](
        { version, exitCode: run.exitCode, error: run.error },
        'journal import finished',
      );
      return { report, sha256: resolved.sha256.toLowerCase() };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Stream the object to `file`, hashing on the way. */
  private async download(objectKey: string, file: string): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const body = await this.options.objects.get(objectKey);
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(file, { mode: 0o600 }),
      { signal: this.options.signal },
    );
    return { sha256: hash.digest('hex'), size };
  }

  private runImport(
    version: string,
    file: string,
    sha256: string,
  ): Promise<{ exitCode: number | null; outputTail: string; error?: string }> {
    const { importCommand, timeoutMs, signal, killGraceMs = 5000 } = this.options;
    const [program, ...args] = importCommand.includes('{file}')
      ? importCommand.map((a) => (a === '{file}' ? file : a))
      : [...importCommand, file];
    return new Promise((resolve) => {
      let tail = Buffer.alloc(0);
      const keep = (chunk: Buffer) => {
        tail = Buffer.concat([tail, chunk]);
        if (tail.length > 2 * OUTPUT_TAIL_BYTES) tail = tail.subarray(tail.length - OUTPUT_TAIL_BYTES);
      };
      const env = {
        ...(this.options.commandEnv ?? process.env),
        JOURNAL_ENV: this.options.env,
        JOURNAL_VERSION: version,
        JOURNAL_FILE: file,
        JOURNAL_SHA256: sha256,
      };
      // detached: its own process group, so a timeout also stops what the command started.
      // program: the constructor refuses an empty importCommand
      const child = spawn(program!, args, {
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let stopReason: string | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const stop = (reason: string) => {
        stopReason ??= reason;
        signalGroup(child.pid, 'SIGTERM');
        killTimer ??= setTimeout(() => signalGroup(child.pid, 'SIGKILL'), killGraceMs);
      };
      const timer = setTimeout(() => stop(`import timed out after ${timeoutMs} ms`), timeoutMs);
      const onAbort = () => stop('agent stopped');
      signal?.addEventListener('abort', onAbort, { once: true });
      let spawnError: string | undefined;
      child.on('error', (err: NodeJS.ErrnoException) => {
        spawnError = `could not start the import command (${err.code ?? err.message})`;
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        signal?.removeEventListener('abort', onAbort);
        const outputTail = decodeTail(tail);
        const error =
          spawnError ??
          stopReason ??
          (code === 0 ? undefined : code === null ? `import killed by ${sig}` : `import exited with code ${code}`);
        resolve({ exitCode: spawnError ? null : code, outputTail, ...(error ? { error } : {}) });
      });
    });
  }

  private failure(version: string, started: number, error: string): ImportReport {
    return {
      env: this.options.env,
      version,
      ok: false,
      exitCode: null,
      durationMs: Math.round(performance.now() - started),
      outputTail: '',
      error,
    };
  }

  private get downloadRetries(): number {
    return this.options.downloadRetries ?? 5;
  }

  /** p-retry with the agent's backoff; a success is kept even when `signal` aborts right after. */
  private async retry<T>(fn: () => Promise<T>, retries: number): Promise<T> {
    const { backoff = {}, signal } = this.options;
    let done: { value: T } | undefined;
    const attempt = async () => {
      done = { value: await fn() };
      return done.value;
    };
    return pRetry(attempt, {
      retries,
      minTimeout: backoff.minMs ?? 1000,
      maxTimeout: backoff.maxMs ?? 60_000,
      factor: backoff.factor ?? 2,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => !(isConveyorError(error) && !error.retryable) && !(error instanceof ImportFailure),
      onFailedAttempt: ({ error, attemptNumber }) =>
        this.log.warn({ attempt: attemptNumber, err: describe(error) }, 'retrying'),
    }).catch((err: unknown) => {
      if (done) return done.value;
      throw err;
    });
  }

  /** Deliver the pending report, if any; keep it for later when the bot cannot be reached. */
  private async flushReport(): Promise<void> {
    const pending = this.state.pendingReport;
    if (!pending) return;
    try {
      await this.retry(() => this.options.report(pending), 5);
      this.state.pendingReport = undefined;
      await this.saveState();
    } catch (err) {
      if (!this.options.signal?.aborted)
        this.log.error(
          { version: pending.version, err: describe(err) },
          'could not deliver the import report; kept for later',
        );
    }
  }

  private async loadState(): Promise<AgentState> {
    let text: string;
    try {
      text = await readFile(this.options.stateFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text || '{}');
    } catch {
      json = undefined;
    }
    const parsed = stateSchema.safeParse(json);
    if (!parsed.success) {
      this.log.error({ stateFile: this.options.stateFile }, 'state file unreadable; starting afresh');
      return {};
    }
    return parsed.data;
  }

  /** Write the state atomically: temp file, fsync, rename. */
  private async saveState(): Promise<void> {
    const { stateFile } = this.options;
    await mkdir(dirname(stateFile), { recursive: true });
    const tmp = `${stateFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(this.state, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, stateFile);
  }
}

function parseResolved(r: ResolvedVersion): ResolvedVersion {
  const ok =
    typeof r?.objectKey === 'string' &&
    r.objectKey.length > 0 &&
    typeof r.sha256 === 'string' &&
    SHA256.test(r.sha256) &&
    Number.isSafeInteger(r.size) &&
    r.size >= 0;
  if (!ok) throw new ImportFailure('the version registry returned an incomplete record');
  return r;
}

function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

function decodeTail(buf: Buffer): string {
  const slice = buf.length > OUTPUT_TAIL_BYTES ? buf.subarray(buf.length - OUTPUT_TAIL_BYTES) : buf;
  // A cut may land inside a multi-byte character: drop the broken start.
  return slice.toString('utf8').replace(/^\uFFFD+/, '');
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
