/**
 * The journal export (`conveyor journal-watch`): watches a folder for finished journal files and
 * takes each through small persisted steps — scope, change approval, checksum + version, upload,
 * registration, move to `uploaded/`. Every step is recorded in the outbox before the next one
 * starts and is idempotent, so a restart (even after SIGKILL) resumes from the outbox alone
 * without losing or duplicating a version.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type FSWatcher, watch } from 'chokidar';
import pRetry from 'p-retry';
import { ConflictError, isConveyorError, NotAllowedError } from '../core/errors.js';
import { type ChangeTickets, type Clock, type Log, type ObjectStore, systemClock } from '../core/ports.js';
import { Arrivals } from './arrivals.js';
import { ContentMismatch, hashingTap } from './hashing-tap.js';
import { checkJournalIntake, checkJournalName, checkJournalSize, isIntakeRefusal } from './intake-rules.js';
import {
  checkClusterMayWrite,
  checkMandatorScope,
  type JournalClusterRule,
  parseJournalMeta,
} from './journal-rules.js';
import { isFinished, Outbox, type OutboxEntry, type OutboxStep, writeFileAtomic } from './outbox.js';
import { nextVersion, parseVersion, VERSION_CLUSTER, versionDay } from './version-id.js';
import type { VersionRegistryClient } from './version-registry.js';

export { HttpVersionRegistry, type JournalVersionInput, type VersionRegistryClient } from './version-registry.js';

export type JournalEventKind = 'uploaded' | 'waiting' | 'rejected' | 'failed';
export interface JournalEvent {
  kind: JournalEventKind;
  file: string;
  version?: string;
  reason?: string;
  /** What a person should do about it (waiting, failed, rejected), naming the exact command where there is one. */
  todo?: string;
}

/** pino's Logger fits this. */
export type JournalLog = Pick<Log, 'info' | 'warn' | 'error'>;

const silentLog: JournalLog = { info() {}, warn() {}, error() {} };

export interface JournalExportOptions {
  cluster: string;
  dir: string;
  clusters: readonly JournalClusterRule[];
  objects: ObjectStore;
  /** Key prefix: objects go to `<prefix>/<cluster>/<version>/<file>`. */
  prefix: string;
  /** Change approval; when absent the approval step is skipped. */
  tickets?: ChangeTickets;
  registry: VersionRegistryClient;
  notify: (event: JournalEvent) => Promise<void>;
  log?: JournalLog;
  clock?: Clock;
  /** Backoff (with jitter) of upload and registration attempts within one round. */
  retry: { retries: number; minTimeout: number; maxTimeout: number };
  /** Delay before a new round once a round's retries are all spent. Default 5 min. */
  retryLaterMs?: number;
  /** Backoff of ticket re-checks while a change is pending. Default 30 s doubling to 10 min. */
  ticketBackoff?: { minTimeout: number; maxTimeout: number };
  /**
   * How long a journal may wait for its `.meta.json` sidecar — or, shorter than the size its
   * sidecar declares, for the rest of its bytes — before it is rejected. Default 10 min.
   */
  metaGraceMs?: number;
  /**
   * A file counts as finished once its size is stable this long (default 2 s) — or at once when
   * its sidecar declares `size` and `sha256` and the file has that size.
   */
  awaitWriteFinishMs?: number;
  usePolling?: boolean;
  /**
   * Called after each step is persisted in the outbox. An error thrown here halts the watcher
   * at once, as a crash would (used by tests to stop between steps).
   */
  afterStep?: (step: OutboxStep, entry: OutboxEntry) => void | Promise<void>;
}

const TEMP_NAME = /(\.tmp|\.temp|\.part|\.partial|\.swp|\.crdownload|\.filepart|~)$/i;
const META_SUFFIX = '.meta.json';
/** Reads of the journal go in pieces this big (fewer, larger chunks on the way to the upload). */
const READ_CHUNK = 1024 * 1024;

/** Names the watcher never treats as journals: hidden, temporary, sidecars. */
export function isCandidateName(name: string): boolean {
  return !name.startsWith('.') && !TEMP_NAME.test(name) && !name.endsWith(META_SUFFIX);
}

class Halt extends Error {}
/** The version endpoint refused for good (name, scope, object): the journal goes to rejected/. */
class Refused extends Error {}
class Deferred extends Error {
  constructor(readonly ms: number) {
    super('deferred');
  }
}

export class JournalExportWatcher {
  private readonly o: JournalExportOptions;
  private readonly log: JournalLog;
  private readonly clock: Clock;
  private readonly outbox: Outbox;
  private readonly prefix: string;
  private readonly queue: string[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly idle: (() => void)[] = [];
  private readonly abort = new AbortController();
  private watcher: FSWatcher | null = null;
  private arrivals: Arrivals | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Set when `afterStep` threw: the watcher stopped as if the process had died. */
  haltedBy: unknown = null;

  constructor(options: JournalExportOptions) {
    this.o = options;
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? systemClock;
    this.outbox = new Outbox(options.dir);
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '');
  }

  private get uploadedDir(): string {
    return path.join(this.o.dir, 'uploaded');
  }
  private get rejectedDir(): string {
    return path.join(this.o.dir, 'rejected');
  }

  /** Refuses (NotAllowedError) on a cluster that may not write; resumes the outbox; watches. */
  async start(): Promise<void> {
    checkClusterMayWrite(this.o.cluster, this.o.clusters);
    if (!VERSION_CLUSTER.test(this.o.cluster)) {
      throw new NotAllowedError(`cluster name "${this.o.cluster}" cannot be used in journal versions`);
    }
    await this.outbox.init();
    await this.abortStaleUploads();
    await mkdir(this.uploadedDir, { recursive: true });
    await mkdir(this.rejectedDir, { recursive: true });
    const pending = (await this.outbox.active()).filter((e) => !isFinished(e));
    pending.sort((a, b) => (a.firstSeenAt < b.firstSeenAt ? -1 : 1));
    for (const e of pending) this.enqueue(e.file);

    const root = path.resolve(this.o.dir);
    const threshold = this.o.awaitWriteFinishMs ?? 2000;
    // Whether a file is finished (stable, or at its declared size) is arrivals.ts's decision.
    const arrivals = new Arrivals(
      root,
      threshold,
      (name) => this.enqueue(name),
      (err, file) => this.log.warn({ err, file }, 'could not check a journal file'),
    );
    this.arrivals = arrivals;
    this.watcher = watch(root, {
      depth: 0,
      ignoreInitial: false,
      followSymlinks: false,
      usePolling: this.o.usePolling ?? false,
      ignored: (p, stats) => {
        if (path.resolve(p) === root) return false;
        if (path.dirname(path.resolve(p)) !== root) return true;
        // Links and other non-files are not followed: they reach process(), which rejects them.
        if (stats?.isDirectory()) return true;
        const name = path.basename(p);
        return name.startsWith('.') || TEMP_NAME.test(name);
      },
    });
    const onFile = (p: string) => {
      const name = path.basename(p);
      const journal = name.endsWith(META_SUFFIX) ? name.slice(0, -META_SUFFIX.length) : name;
      if (isCandidateName(journal)) arrivals.seen(journal);
    };
    this.watcher.on('add', onFile).on('change', onFile);
    this.watcher.on('error', (err) => this.log.error({ err }, 'journal folder watch failed'));
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()));
  }

  /**
   * Uploads this cluster started and never finished (the watcher was killed mid-upload) are
   * aborted at start, so their parts do not linger in the bucket. Best effort: a store that
   * cannot list them leaves it to the bucket's lifecycle rule.
   */
  private async abortStaleUploads(): Promise<void> {
    const store = this.o.objects as { abortStaleUploads?: (prefix: string, olderThanMs: number) => Promise<number> };
    if (typeof store.abortStaleUploads !== 'function') return;
    const prefix = `${this.prefix ? `${this.prefix}/` : ''}${this.o.cluster}/`;
    try {
      const aborted = await store.abortStaleUploads(prefix, 10 * 60_000);
      if (aborted) this.log.info({ aborted, prefix }, 'aborted uploads a stopped watcher left unfinished');
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'could not clean unfinished uploads; the bucket lifecycle rule will',
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.arrivals?.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.watcher?.close();
    this.watcher = null;
    await this.running;
  }

  /** Resolves once no file is queued or being processed (timers for later attempts may remain). */
  async drain(): Promise<void> {
    while (this.running || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idle.push(resolve));
    }
  }

  private enqueue(name: string): void {
    if (this.stopped || !isCandidateName(name) || this.queue.includes(name)) return;
    this.queue.push(name);
    if (!this.running) this.running = this.pump();
  }

  private later(name: string, ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(name));
    const t = setTimeout(() => {
      this.timers.delete(name);
      this.enqueue(name);
    }, ms);
    t.unref();
    this.timers.set(name, t);
  }

  private async pump(): Promise<void> {
    // let the caller finish its synchronous work before the first file
    await Promise.resolve();
    while (!this.stopped && this.queue.length > 0) {
      const name = this.queue.shift()!;
      try {
        await this.process(name);
      } catch (err) {
        if (err instanceof Halt) {
          this.queue.length = 0;
          void this.stop();
          break;
        }
        if (err instanceof Deferred) {
          this.later(name, err.ms);
          continue;
        }
        if (this.stopped) break;
        this.log.error({ err, file: name }, 'journal export step failed unexpectedly');
        this.later(name, this.o.retryLaterMs ?? 300_000);
      }
    }
    this.running = null;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private async save(entry: OutboxEntry, step?: OutboxStep): Promise<OutboxEntry> {
    const saved = await this.outbox.save(step ? { ...entry, step } : entry);
    if (step && this.o.afterStep) {
      try {
        await this.o.afterStep(step, saved);
      } catch (err) {
        this.haltedBy = err;
        throw new Halt('halted after step');
      }
    }
    return saved;
  }

  private async process(name: string): Promise<void> {
    const full = path.join(this.o.dir, name);
    // lstat: a link is never followed, whatever it points at.
    const st = await lstat(full).catch(() => null);
    let entry = await this.outbox.get(name);
    if (st && !st.isFile() && !st.isDirectory() && (!entry || isFinished(entry))) {
      const kind = st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      await this.rejectUnseen(name, full, st, `${name} is ${kind}; journals must be regular files`);
      return;
    }
    const present = !!st?.isFile();
    if (!present && (!entry || isFinished(entry))) return;
    if (present && (!entry || isFinished(entry))) {
      // The rules every side applies (intake-rules.ts): a name or size that fails is refused for good.
      try {
        checkJournalName(name);
        checkJournalSize(st!.size);
      } catch (err) {
        if (!isIntakeRefusal(err)) throw err;
        await this.rejectUnseen(name, full, st!, (err as Error).message);
        return;
      }
    }
    if (present && entry && isFinished(entry)) {
      await this.outbox.archive(entry); // a new file under a name seen before
      entry = null;
    }
    const now = this.clock.now().toISOString();
    if (!entry) {
      const fresh: OutboxEntry = {
        file: name,
        size: st!.size,
        mtimeMs: st!.mtimeMs,
        step: 'new',
        attempts: 0,
        ticketChecks: 0,
        reportedWaiting: false,
        reportedFailure: false,
        firstSeenAt: now,
        updatedAt: now,
      };
      entry = await this.save(fresh);
    }
    let changed = present && (st!.size !== entry.size || st!.mtimeMs !== entry.mtimeMs);
    if (!present && (entry.step === 'new' || entry.step === 'approved')) {
      this.log.warn({ file: name }, 'journal file disappeared before upload');
      await this.save({ ...entry, reason: 'file disappeared before upload' }, 'rejected');
      return;
    }
    if (changed && (entry.step === 'new' || entry.step === 'approved')) {
      // Rewritten before its upload (exported again): its sidecar is read again (the size and
      // sha256 it declares, its mandators and ticket, checked anew) and it is hashed again; a
      // version already reserved is kept.
      entry = await this.save(
        {
          ...entry,
          size: st!.size,
          mtimeMs: st!.mtimeMs,
          sha256: undefined,
          declaredSize: undefined,
          declaredSha256: undefined,
          reportedWaiting: false,
        },
        'new',
      );
      changed = false;
    }

    if (entry.step === 'new') entry = await this.checkScopeAndTicket(entry, full);
    if (entry.step === 'approved') entry = await this.upload(entry, full);
    if (entry.step === 'uploaded') {
      try {
        entry = await this.register(entry);
      } catch (err) {
        if (!(err instanceof Refused)) throw err;
        await this.reject(entry, full, `the version endpoint refused ${entry.version}: ${err.message}`);
        return;
      }
    }
    if (entry.step === 'registered') {
      if (changed) {
        // the file was rewritten after its upload: the old content is registered; the new one starts over
        this.log.warn({ file: name, version: entry.version }, 'journal file changed after upload; exporting it anew');
        await this.save({ ...entry, reason: 'file changed after upload' }, 'moved');
        this.enqueue(name);
        return;
      }
      if (present) await this.moveOut(full, this.uploadedDir, entry.version!);
      else await rename(`${full}${META_SUFFIX}`, path.join(this.uploadedDir, `${name}${META_SUFFIX}`)).catch(() => {});
      entry = await this.save({ ...entry, reportedFailure: false }, 'moved');
      await this.report({ kind: 'uploaded', file: name, version: entry.version, reason: entry.reason });
    }
  }

  private async checkScopeAndTicket(entry: OutboxEntry, full: string): Promise<OutboxEntry> {
    const name = entry.file;
    let metaText: string;
    try {
      metaText = await readFile(`${full}${META_SUFFIX}`, 'utf8');
    } catch {
      const waited = this.clock.now().getTime() - Date.parse(entry.firstSeenAt);
      const grace = this.o.metaGraceMs ?? 600_000;
      if (waited < grace) throw new Deferred(grace - waited);
      return this.reject(entry, full, `no metadata sidecar ${name}${META_SUFFIX}`);
    }
    let meta: ReturnType<typeof parseJournalMeta>;
    try {
      meta = parseJournalMeta(metaText);
      checkMandatorScope(this.o.cluster, meta.mandators, this.o.clusters);
      checkJournalIntake(
        { cluster: this.o.cluster, file: name, size: entry.size, ticket: meta.ticket, mandators: meta.mandators },
        this.o.clusters,
      );
    } catch (err) {
      if (!isConveyorError(err)) throw err;
      return this.reject(entry, full, err.message);
    }
    if (meta.size !== undefined && meta.size !== entry.size) {
      // A short file may still be written (it is taken at once when it reaches the size); a long one never fits.
      const waited = this.clock.now().getTime() - Date.parse(entry.firstSeenAt);
      const grace = this.o.metaGraceMs ?? 600_000;
      if (entry.size < meta.size && waited < grace) throw new Deferred(grace - waited);
      return this.reject(entry, full, `${name} has ${entry.size} bytes; its sidecar declares ${meta.size}`);
    }
    // True export time: what the exporter says, else the file's modification time as first seen.
    const exportedAt = meta.exportedAt
      ? new Date(meta.exportedAt).toISOString()
      : new Date(entry.mtimeMs).toISOString();
    entry = {
      ...entry,
      ticket: meta.ticket,
      mandators: meta.mandators,
      exportedAt,
      declaredSize: meta.size,
      declaredSha256: meta.sha256,
    };
    if (this.o.tickets) {
      const delay = () => {
        const b = this.o.ticketBackoff ?? { minTimeout: 30_000, maxTimeout: 600_000 };
        const base = Math.min(b.maxTimeout, b.minTimeout * 2 ** Math.min(entry.ticketChecks, 20));
        return Math.round(base * (0.5 + Math.random() / 2));
      };
      let check: Awaited<ReturnType<ChangeTickets['check']>>;
      try {
        check = await this.o.tickets.check(meta.ticket);
      } catch (err) {
        this.log.warn({ err, file: name, ticket: meta.ticket }, 'change ticket check failed; will check again');
        entry = await this.save({ ...entry, ticketChecks: entry.ticketChecks + 1 });
        throw new Deferred(delay());
      }
      if (check.verdict === 'pending') {
        if (!entry.reportedWaiting) {
          await this.report({
            kind: 'waiting',
            file: name,
            reason: `change ${meta.ticket} is not approved yet (${check.detail})`,
            todo: `get ${meta.ticket} approved in ServiceNow; ${name} waits in the export folder and is uploaded by itself once it is (checked again with backoff)`,
          });
        }
        entry = await this.save({ ...entry, reportedWaiting: true, ticketChecks: entry.ticketChecks + 1 });
        throw new Deferred(delay());
      }
      if (check.verdict !== 'approved') {
        return this.reject(entry, full, `change ${meta.ticket} is ${check.verdict} (${check.detail})`);
      }
    }
    return this.save(entry, 'approved');
  }

  /** Run `fn` with bounded exponential backoff and jitter; after the last retry report once and defer. */
  private async withRetries<T>(entry: OutboxEntry, what: string, fn: () => Promise<T>): Promise<T> {
    const r = this.o.retry;
    try {
      return await pRetry(fn, {
        retries: r.retries,
        minTimeout: r.minTimeout,
        maxTimeout: r.maxTimeout,
        factor: 2,
        randomize: true,
        signal: this.abort.signal,
        shouldRetry: ({ error }) => !(error instanceof ContentMismatch) && (!isConveyorError(error) || error.retryable),
        onFailedAttempt: ({ error, attemptNumber }) =>
          this.log.warn({ file: entry.file, attempt: attemptNumber, err: error.message }, `${what} failed`),
      });
    } catch (err) {
      if (err instanceof Halt || err instanceof ContentMismatch || this.stopped) throw err;
      if (err instanceof ConflictError) {
        await this.save({ ...entry, sha256: undefined });
        throw new Deferred(0);
      }
      if (isIntakeRefusal(err) && what.startsWith('registration')) throw new Refused((err as Error).message);
      const reason =
        `${what} failed after ${this.o.retry.retries + 1} attempts: ${err instanceof Error ? err.message : String(err)}`.slice(
          0,
          400,
        );
      const later = `tried again every ${duration(this.o.retryLaterMs ?? 300_000)}`;
      const todo = what.startsWith('registration')
        ? `${entry.file} is uploaded as ${entry.objectKey}; registration is ${later}, or a registrar runs now: journal register ${entry.objectKey}`
        : what.startsWith('upload')
          ? `${entry.file} stays in the export folder and is ${later}; check the bucket and this cluster's S3 credentials`
          : `${entry.file} stays in the export folder and is ${later}; check that serve's version endpoint answers`;
      this.log.error({ file: entry.file, err, todo }, reason);
      if (!entry.reportedFailure)
        await this.report({ kind: 'failed', file: entry.file, version: entry.version, reason, todo });
      await this.save({ ...entry, attempts: entry.attempts + 1, reportedFailure: true });
      throw new Deferred(this.o.retryLaterMs ?? 300_000);
    }
  }

  /**
   * One read of the file: it is hashed on its way to the object store, and the upload completes
   * only if its bytes are the expected ones (hashing-tap.ts). Expected: the sidecar's declared
   * sha256 when it has one (then nothing reads the file before), else the sha256 of a first read.
   */
  private async upload(entry: OutboxEntry, full: string): Promise<OutboxEntry> {
    const declared = entry.declaredSha256;
    if (declared && entry.sha256 !== declared) entry = await this.save({ ...entry, sha256: declared });
    if (!entry.sha256) entry = await this.save({ ...entry, sha256: await sha256Of(full) });
    if (!entry.version) {
      const assigned = await this.withRetries(entry, 'version assignment', () => this.assignVersion(entry));
      entry = await this.save({ ...entry, ...assigned });
    }
    const e = entry;
    const expected = { size: e.declaredSize ?? e.size, sha256: e.sha256! };
    const metadata: Record<string, string> = {
      version: e.version!,
      cluster: this.o.cluster,
      sha256: e.sha256!,
      mandators: (e.mandators ?? []).join(','),
      file: encodeURIComponent(e.file),
      ...(e.ticket ? { ticket: e.ticket } : {}),
      ...(e.exportedAt ? { 'exported-at': e.exportedAt } : {}),
    };
    try {
      await this.withRetries(e, `upload of ${e.file}`, async () => {
        const existing = await this.o.objects.head(e.objectKey!);
        if (existing && existing.metadata.sha256 === e.sha256 && existing.size === e.size) {
          // Uploaded before (a restart, or the same content again): a declared sha256 is still checked against this file.
          if (declared) {
            const actual = await sha256Of(full);
            if (actual !== declared) throw new ContentMismatch(expected, e.size, actual);
          }
          return;
        }
        const tap = hashingTap(expected);
        // Opened without following a link: a file swapped for a link since it was checked fails here.
        const source = (await open(full, constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream({
          highWaterMark: READ_CHUNK,
        });
        source.on('error', (err) => tap.stream.destroy(err));
        source.pipe(tap.stream);
        try {
          await this.o.objects.put(e.objectKey!, tap.stream, { metadata, size: e.size });
        } catch (err) {
          throw tap.mismatch() ?? err;
        } finally {
          source.destroy();
        }
      });
    } catch (err) {
      if (!(err instanceof ContentMismatch)) throw err;
      return this.mismatched(e, full, err);
    }
    return this.save({ ...e, uploadedAt: this.clock.now().toISOString() }, 'uploaded');
  }

  /**
   * The bytes read were not the expected ones; the upload was aborted before it completed. A file
   * that changed meanwhile is taken again once it settles; a still file that is not what its
   * sidecar declares is refused, and its reserved version freed.
   */
  private async mismatched(entry: OutboxEntry, full: string, err: ContentMismatch): Promise<OutboxEntry> {
    const st = await lstat(full).catch(() => null);
    const moved = !st?.isFile() || st.size !== entry.size || st.mtimeMs !== entry.mtimeMs;
    if (moved || !entry.declaredSha256) {
      this.log.warn(
        { file: entry.file, err: err.message },
        'journal file changed while it was uploaded; taking it again',
      );
      await this.save({ ...entry, sha256: undefined });
      throw new Deferred(moved ? (this.o.awaitWriteFinishMs ?? 2000) : 0);
    }
    const freed = await this.save({ ...entry, version: undefined, objectKey: undefined });
    return this.reject(
      freed,
      full,
      `${entry.file} does not match its sidecar: ${err.message}; the upload was aborted and nothing registered`,
    );
  }

  /** Same content keeps its version; otherwise the next sequence of the day. */
  private async assignVersion(entry: OutboxEntry): Promise<Pick<OutboxEntry, 'version' | 'objectKey' | 'reason'>> {
    const all = await this.outbox.all();
    const same = all.find((x) => x.sha256 === entry.sha256 && x.version && x.objectKey && x.step !== 'rejected');
    if (same) return { version: same.version, objectKey: same.objectKey, reason: `same content as ${same.file}` };
    const day = versionDay(this.clock.now());
    const known = new Set(all.flatMap((x) => (x.version ? [x.version] : [])));
    for (const v of (await this.o.registry.latestForDay?.(this.o.cluster, day)) ?? []) known.add(v);
    const base = `${this.prefix ? `${this.prefix}/` : ''}${this.o.cluster}/`;
    for (const obj of await this.o.objects.list(`${base}${day}-`)) known.add(obj.key.slice(base.length).split('/')[0]!); // split always yields a first element
    const version = nextVersion(this.clock.now(), this.o.cluster, known);
    return { version, objectKey: `${base}${version}/${entry.file}` };
  }

  private async register(entry: OutboxEntry): Promise<OutboxEntry> {
    const e = entry;
    const result = await this.withRetries(e, `registration of ${e.version}`, () =>
      this.o.registry.register({
        version: e.version!,
        cluster: this.o.cluster,
        file: e.file,
        size: e.size,
        sha256: e.sha256!,
        ticket: e.ticket,
        mandators: e.mandators ?? [],
        objectKey: e.objectKey!,
        uploadedAt: e.uploadedAt ?? this.clock.now().toISOString(),
        ...(e.exportedAt ? { exportedAt: e.exportedAt } : {}),
      }),
    );
    let version = e.version!;
    if (result.version !== version && parseVersion(result.version, false)) {
      this.log.warn({ file: e.file, ours: version, registered: result.version }, 'content already registered');
      version = result.version;
    }
    return this.save({ ...e, version }, 'registered');
  }

  /** Reject a file that never got an outbox record of its own (bad name, empty, a link). */
  private async rejectUnseen(
    name: string,
    full: string,
    st: { size: number; mtimeMs: number },
    reason: string,
  ): Promise<void> {
    const now = this.clock.now().toISOString();
    const previous = await this.outbox.get(name);
    if (previous) await this.outbox.archive(previous);
    const entry: OutboxEntry = {
      file: name,
      size: st.size,
      mtimeMs: st.mtimeMs,
      step: 'new',
      attempts: 0,
      ticketChecks: 0,
      reportedWaiting: false,
      reportedFailure: false,
      firstSeenAt: now,
      updatedAt: now,
    };
    await this.reject(await this.save(entry), full, reason);
  }

  private async reject(entry: OutboxEntry, full: string, reason: string): Promise<OutboxEntry> {
    const dest = await this.moveOut(full, this.rejectedDir, 'rejected');
    // Beside the file; a name too long for the suffix gets a short one (the reason names the file).
    const base = path.basename(dest);
    const reasonFile =
      Buffer.byteLength(base) + '.reason.txt'.length <= 255
        ? `${dest}.reason.txt`
        : path.join(this.rejectedDir, `${createHash('sha256').update(base).digest('hex').slice(0, 16)}.reason.txt`);
    await writeFileAtomic(reasonFile, `${entry.file}: ${reason}\n`);
    const saved = await this.save({ ...entry, reason }, 'rejected');
    this.log.warn({ file: entry.file, reason }, 'journal rejected');
    await this.report({
      kind: 'rejected',
      file: entry.file,
      reason,
      todo: `${path.basename(dest)} and its reason are in rejected/; correct it and export it again`,
    });
    return saved;
  }

  /** Move a journal and its sidecar into `dir`; a name already there gets `<tag>--` in front. */
  private async moveOut(full: string, dir: string, tag: string): Promise<string> {
    const name = path.basename(full);
    const taken = await stat(path.join(dir, name)).then(
      () => true,
      () => false,
    );
    const dest = path.join(dir, taken ? `${tag}--${this.clock.now().getTime()}--${name}` : name);
    if (dir === this.rejectedDir) {
      await rename(`${full}${META_SUFFIX}`, `${dest}${META_SUFFIX}`).catch(() => undefined);
      await rename(full, dest);
    } else {
      // the journal first: a crash in between leaves only a sidecar, which resume moves after it
      await rename(full, dest);
      await rename(`${full}${META_SUFFIX}`, `${dest}${META_SUFFIX}`).catch(() => undefined);
    }
    return dest;
  }

  private async report(event: JournalEvent): Promise<void> {
    try {
      await this.o.notify(event);
    } catch (err) {
      this.log.warn({ err, file: event.file, kind: event.kind }, 'journal notification failed');
    }
  }
}

/** 300000 → "5 min", 90000 → "90 s". */
function duration(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.max(1, Math.round(ms / 1000))} s`;
}

/** The sha256 of a regular file, opened without following a link (a swap to a link fails). */
async function sha256Of(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await handle.stat()).isFile()) throw new ConflictError(`${path.basename(file)} is no longer a regular file`);
    const hash = createHash('sha256');
    await pipeline(handle.createReadStream({ autoClose: false }), hash);
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------- version endpoint client
