/**
 * Journal versions and import results in the state store. Registration is idempotent by
 * checksum: the same content never gets two versions.
 */
import type { Clock, JournalImport, JournalVersion, JournalVersions, NewJournalVersion } from '../core/ports.js';
import type { Db } from './db.js';

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

function toVersion(r: Record<string, unknown>): JournalVersion {
  return {
    version: String(r.version),
    cluster: String(r.cluster),
    file: String(r.file),
    size: Number(r.size),
    sha256: String(r.sha256),
    objectKey: String(r.object_key),
    ticket: (r.ticket as string | null) ?? null,
    mandators: (r.mandators as string[]) ?? [],
    uploadedAt: iso(r.uploaded_at),
    registeredAt: iso(r.registered_at),
    exportedAt: r.exported_at === null || r.exported_at === undefined ? null : iso(r.exported_at),
    uploadedBy: (r.uploaded_by as string | null) ?? null,
  };
}

function toImport(r: Record<string, unknown>): JournalImport {
  return {
    env: String(r.env),
    version: String(r.version),
    ok: Boolean(r.ok),
    exitCode: r.exit_code === null || r.exit_code === undefined ? null : Number(r.exit_code),
    durationMs: Number(r.duration_ms),
    outputTail: String(r.output_tail ?? ''),
    error: (r.error as string | null) ?? null,
    at: iso(r.at),
  };
}

export class JournalStore implements JournalVersions {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Register a version; when its checksum is known already, the existing version is returned. */
  async register(v: NewJournalVersion): Promise<{ version: JournalVersion; created: boolean }> {
    const rows = await this.db.query<Record<string, unknown>>(
      `INSERT INTO journal_versions (version, cluster, file, size, sha256, object_key, ticket, mandators, uploaded_at, registered_at, exported_at, uploaded_by)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING RETURNING *`,
      [
        v.version,
        v.cluster,
        v.file,
        v.size,
        v.sha256,
        v.objectKey,
        v.ticket,
        JSON.stringify(v.mandators),
        v.uploadedAt,
        this.clock.now().toISOString(),
        v.exportedAt ?? null,
        v.uploadedBy ?? null,
      ],
    );
    if (rows[0]) return { version: toVersion(rows[0]), created: true };
    const existing = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM journal_versions WHERE sha256 = $1 OR version = $2 ORDER BY sha256 = $1 DESC',
      [v.sha256, v.version],
    );
    return { version: toVersion(existing[0]!), created: false };
  }

  async get(version: string): Promise<JournalVersion | null> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM journal_versions WHERE version = $1', [
      version,
    ]);
    return rows[0] ? toVersion(rows[0]) : null;
  }

  /** Newest first (versions sort by day, cluster, sequence; registration time breaks ties). */
  async list(filter: { cluster?: string; day?: string; limit?: number } = {}): Promise<JournalVersion[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM journal_versions WHERE ($1::text IS NULL OR cluster = $1) AND ($2::text IS NULL OR version LIKE $2 || '-%')
       ORDER BY registered_at DESC, version DESC LIMIT $3`,
      [filter.cluster ?? null, filter.day ?? null, filter.limit ?? 100],
    );
    return rows.map(toVersion);
  }

  async recordImport(r: Omit<JournalImport, 'at'>): Promise<{ created: boolean }> {
    // Agents deliver reports at least once: the same (env, version, outcome) twice is one report.
    const seen = await this.db.query(
      'SELECT 1 FROM journal_imports WHERE env = $1 AND version = $2 AND ok = $3 AND duration_ms = $4',
      [r.env, r.version, r.ok, r.durationMs],
    );
    if (seen.length) return { created: false };
    await this.db.query(
      'INSERT INTO journal_imports (env, version, ok, exit_code, duration_ms, output_tail, error, at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)',
      [
        r.env,
        r.version,
        r.ok,
        r.exitCode,
        r.durationMs,
        r.outputTail.slice(-4096),
        r.error,
        this.clock.now().toISOString(),
      ],
    );
    return { created: true };
  }

  async imports(env: string, limit = 20): Promise<JournalImport[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM journal_imports WHERE env = $1 ORDER BY id DESC LIMIT $2',
      [env, limit],
    );
    return rows.map(toImport);
  }

  /** The newest version this environment imported successfully. */
  async lastGoodImport(env: string): Promise<JournalImport | null> {
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM journal_imports WHERE env = $1 AND ok ORDER BY id DESC LIMIT 1',
      [env],
    );
    return rows[0] ? toImport(rows[0]) : null;
  }

  /** Successful imports of an environment, newest first, distinct by version. */
  async goodImports(env: string): Promise<string[]> {
    const rows = await this.db.query<{ version: string }>(
      'SELECT version, max(id) AS last FROM journal_imports WHERE env = $1 AND ok GROUP BY version ORDER BY last DESC',
      [env],
    );
    return rows.map((r) => r.version);
  }
}
