/**
 * A crash-safe local outbox for the journal export: one JSON record per journal file in
 * `<dir>/.conveyor-outbox/`, each written atomically (temp file, fsync, rename, fsync of the
 * folder). A restarted watcher resumes every file from its record alone.
 *
 * Finished records (moved or rejected) stay under their file name until a new file of the same
 * name arrives; they are then kept in `history/` so that the same content is never given a
 * second version.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

export const OUTBOX_DIR = '.conveyor-outbox';

export const OUTBOX_STEPS = ['new', 'approved', 'uploaded', 'registered', 'moved', 'rejected'] as const;
export type OutboxStep = (typeof OUTBOX_STEPS)[number];

const entrySchema = z.object({
  file: z.string().min(1),
  size: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** What the sidecar declares (`size`, `sha256`): the upload is verified against them before it completes. */
  declaredSize: z.number().int().nonnegative().optional(),
  declaredSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  version: z.string().optional(),
  objectKey: z.string().optional(),
  step: z.enum(OUTBOX_STEPS),
  /** Upload/registration rounds that ended with every retry failing. */
  attempts: z.number().int().nonnegative(),
  /** Ticket checks made while it was pending (drives the backoff). */
  ticketChecks: z.number().int().nonnegative().default(0),
  reportedWaiting: z.boolean(),
  reportedFailure: z.boolean().default(false),
  ticket: z.string().optional(),
  mandators: z.array(z.string()).optional(),
  uploadedAt: z.string().optional(),
  /** The sidecar's `exportedAt`, else the file's mtime when the watcher first took it. */
  exportedAt: z.string().optional(),
  reason: z.string().optional(),
  firstSeenAt: z.string(),
  updatedAt: z.string(),
});

export type OutboxEntry = z.infer<typeof entrySchema>;

export function isFinished(entry: OutboxEntry): boolean {
  return entry.step === 'moved' || entry.step === 'rejected';
}

/** Write a file so that a crash leaves either the old or the new content, never a mix. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const dir = path.dirname(file);
  // Short whatever the file's name (a name near 255 bytes leaves no room for a suffix).
  const tmp = path.join(dir, `.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    await handle.close();
  }
}

export class Outbox {
  readonly root: string;
  private readonly historyDir: string;

  constructor(journalDir: string) {
    this.root = path.join(journalDir, OUTBOX_DIR);
    this.historyDir = path.join(this.root, 'history');
  }

  /** Create the folders and drop temp files a crash left half-written. */
  async init(): Promise<void> {
    // Private: 0700 folders and 0600 records whatever the umask.
    await mkdir(this.historyDir, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    await chmod(this.historyDir, 0o700);
    for (const name of await readdir(this.root)) {
      if (name.startsWith('.') && name.endsWith('.tmp')) await rm(path.join(this.root, name), { force: true });
    }
  }

  private pathOf(file: string): string {
    return path.join(this.root, `${encodeURIComponent(file)}.json`);
  }

  async get(file: string): Promise<OutboxEntry | null> {
    return this.readEntry(this.pathOf(file));
  }

  async save(entry: OutboxEntry): Promise<OutboxEntry> {
    const next = { ...entry, updatedAt: new Date().toISOString() };
    await writeFileAtomic(this.pathOf(entry.file), `${JSON.stringify(next, null, 2)}\n`);
    return next;
  }

  /** Move a finished record out of the way of a new file with the same name. */
  async archive(entry: OutboxEntry): Promise<void> {
    const tag = entry.sha256?.slice(0, 16) ?? randomBytes(8).toString('hex');
    await rename(this.pathOf(entry.file), path.join(this.historyDir, `${tag}-${encodeURIComponent(entry.file)}.json`));
    await syncDir(this.root);
  }

  /** Current records (one per file name). */
  async active(): Promise<OutboxEntry[]> {
    return this.readAll(this.root);
  }

  /** Current and archived records. */
  async all(): Promise<OutboxEntry[]> {
    return [...(await this.readAll(this.root)), ...(await this.readAll(this.historyDir))];
  }

  private async readAll(dir: string): Promise<OutboxEntry[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const out: OutboxEntry[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const entry = await this.readEntry(path.join(dir, name));
      if (entry) out.push(entry);
    }
    return out;
  }

  private async readEntry(file: string): Promise<OutboxEntry | null> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Written atomically, so a parse failure means outside tampering: treat the record as absent.
    try {
      return entrySchema.parse(JSON.parse(text));
    } catch {
      return null;
    }
  }
}
