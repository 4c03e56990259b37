/**
 * ObjectStore over a local folder: the embedded default for journal objects.
 * Layout: `<root>/data/<key>` holds the bytes, `<root>/meta/<key>.json` the metadata.
 * Writes go to `<root>/tmp/` first and are renamed into place (metadata before data, so an
 * object that exists always has its metadata).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError, NotFoundError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../core/ports.js';

const MAX_KEY = 1024;

/** InputError unless the key is a relative path of safe segments. */
export function validateObjectKey(key: string): void {
  const shown = JSON.stringify(key.slice(0, 80));
  if (key.length === 0 || key.length > MAX_KEY) throw new InputError(`object key ${shown} has a bad length`);
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw new InputError(`object key ${shown} contains forbidden characters`);
  if (key.startsWith('/') || path.isAbsolute(key)) throw new InputError(`object key ${shown} must be relative`);
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new InputError(`object key ${shown} has an empty, "." or ".." segment`);
  }
}

export class LocalObjectStore implements ObjectStore {
  private readonly dataDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.dataDir = path.join(root, 'data');
    this.metaDir = path.join(root, 'meta');
    this.tmpDir = path.join(root, 'tmp');
  }

  async put(key: string, body: Readable, options: { metadata: Record<string, string>; size?: number }): Promise<void> {
    validateObjectKey(key);
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const stamp = `${process.pid}.${randomBytes(6).toString('hex')}`;
    const tmpData = path.join(this.tmpDir, `${stamp}.data`);
    const tmpMeta = path.join(this.tmpDir, `${stamp}.json`);
    try {
      const out = createWriteStream(tmpData, { mode: 0o600 });
      await pipeline(body, out);
      await fsyncFile(tmpData);
      const size = (await stat(tmpData)).size;
      if (options.size !== undefined && options.size !== size) {
        throw new InputError(`object ${key}: expected ${options.size} bytes, received ${size}`);
      }
      const handle = await open(tmpMeta, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify({ metadata: options.metadata }));
        await handle.sync();
      } finally {
        await handle.close();
      }
      const dataFile = path.join(this.dataDir, key);
      const metaFile = path.join(this.metaDir, `${key}.json`);
      await mkdir(path.dirname(dataFile), { recursive: true, mode: 0o700 });
      await mkdir(path.dirname(metaFile), { recursive: true, mode: 0o700 });
      await rename(tmpMeta, metaFile);
      await rename(tmpData, dataFile);
    } finally {
      await rm(tmpData, { force: true });
      await rm(tmpMeta, { force: true });
    }
  }

  /**
   * Remove temporary files of uploads that never finished (a killed writer) older than
   * `olderThanMs`, or whose writing process on this machine is gone. Returns how many.
   */
  async abortStaleUploads(_prefix: string, olderThanMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const file = path.join(this.tmpDir, name);
      const pid = Number(name.split('.')[0]);
      const info = await stat(file).catch(() => null);
      if (!info) continue;
      const writerGone = Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid);
      if (writerGone || now - info.mtimeMs > olderThanMs) {
        await rm(file, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  async get(key: string): Promise<Readable> {
    validateObjectKey(key);
    const file = path.join(this.dataDir, key);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new NotFoundError(`object ${key} does not exist`);
    return createReadStream(file);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateObjectKey(key);
    const info = await stat(path.join(this.dataDir, key)).catch(() => null);
    if (!info?.isFile()) return null;
    return { key, size: info.size, metadata: await this.readMeta(key), lastModified: info.mtime.toISOString() };
  }

  /** Every object whose key starts with `prefix` (a string prefix, as on S3), sorted by key. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix) || `${key}/`.startsWith(prefix)) {
            await walk(path.join(dir, e.name), key);
          }
        } else if (e.isFile() && key.startsWith(prefix)) {
          const info = await stat(path.join(dir, e.name));
          out.push({
            key,
            size: info.size,
            metadata: await this.readMeta(key),
            lastModified: info.mtime.toISOString(),
          });
        }
      }
    };
    await walk(this.dataDir, '');
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async readMeta(key: string): Promise<Record<string, string>> {
    try {
      const raw = JSON.parse(await readFile(path.join(this.metaDir, `${key}.json`), 'utf8')) as {
        metadata?: Record<string, string>;
      };
      return { ...(raw.metadata ?? {}) };
    } catch {
      return {};
    }
  }
}

async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
