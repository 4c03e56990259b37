/** SQL migrations, run in order at start on both PGlite and PostgreSQL. */
import type { Db } from './db.js';

const MIGRATIONS: string[] = [
  `
  CREATE TABLE IF NOT EXISTS command_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT
  );
  CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    operation_id TEXT,
    detail JSONB NOT NULL DEFAULT '{}'::jsonb
  );
  CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    app TEXT NOT NULL,
    env TEXT NOT NULL,
    state TEXT NOT NULL,
    requester TEXT NOT NULL,
    plan JSONB NOT NULL,
    progress JSONB NOT NULL DEFAULT '{}'::jsonb,
    idempotency_key TEXT UNIQUE,
    message JSONB,
    error TEXT,
    claimed_by TEXT,
    claimed_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
  );
  CREATE INDEX IF NOT EXISTS operations_app_env ON operations (app, env, created_at DESC);
  CREATE INDEX IF NOT EXISTS operations_state ON operations (state);
  CREATE TABLE IF NOT EXISTS approvals (
    operation_id TEXT NOT NULL REFERENCES operations(id),
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    sha TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (operation_id, user_id, sha)
  );
  CREATE TABLE IF NOT EXISTS locks (
    app TEXT NOT NULL,
    env TEXT NOT NULL,
    operation_id TEXT,
    holder TEXT NOT NULL,
    reason TEXT NOT NULL,
    manual BOOLEAN NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app, env, manual)
  );
  CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    reply JSONB,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS journal_versions (
    version TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    file TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    object_key TEXT NOT NULL,
    ticket TEXT,
    mandators JSONB NOT NULL DEFAULT '[]'::jsonb,
    uploaded_at TIMESTAMPTZ NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS journal_imports (
    id BIGSERIAL PRIMARY KEY,
    env TEXT NOT NULL,
    version TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    exit_code INTEGER,
    duration_ms INTEGER NOT NULL,
    output_tail TEXT NOT NULL DEFAULT '',
    error TEXT,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    modify_index BIGINT NOT NULL
  );
  CREATE SEQUENCE IF NOT EXISTS kv_index;
  CREATE TABLE IF NOT EXISTS live_state (
    app TEXT NOT NULL,
    env TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app, env)
  );
  CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  `,
  // 2: idempotency keys bound to the request they came with; one command-log line per request;
  // the durable inbox of acked Slack requests (src/store/inbox-store.ts).
  `
  ALTER TABLE idempotency ADD COLUMN IF NOT EXISTS fingerprint TEXT;
  ALTER TABLE idempotency ADD COLUMN IF NOT EXISTS claimed_by TEXT;
  ALTER TABLE command_log ADD COLUMN IF NOT EXISTS request_key TEXT;
  CREATE UNIQUE INDEX IF NOT EXISTS command_log_request_key ON command_log (request_key);
  CREATE TABLE IF NOT EXISTS inbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload JSONB NOT NULL,
    state TEXT NOT NULL,
    reply JSONB,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    claimed_by TEXT,
    claimed_until TIMESTAMPTZ,
    accepted_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
  );
  CREATE INDEX IF NOT EXISTS inbox_open ON inbox (accepted_at) WHERE state <> 'done' AND state <> 'failed';
  `,
  // 3: the order operations were made in, when two share a timestamp (a journal environment's
  // moves are read in that order to know which versions it rolled back from).
  `
  ALTER TABLE operations ADD COLUMN IF NOT EXISTS seq BIGSERIAL;
  `,
  // 4: personal API tokens (issued to a Slack user, stored as a SHA-256 hash, revocable);
  // a journal version's true metadata: when the cluster exported it and who uploaded it.
  `
  CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
  );
  CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (owner);
  ALTER TABLE journal_versions ADD COLUMN IF NOT EXISTS exported_at TIMESTAMPTZ;
  ALTER TABLE journal_versions ADD COLUMN IF NOT EXISTS uploaded_by TEXT;
  `,
  // 5: the columns retention (./retention.ts) prunes by, so a pass reads only the old rows
  // instead of scanning each table; for the inbox only the finished items it may prune.
  `
  CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at);
  CREATE INDEX IF NOT EXISTS command_log_at ON command_log (at);
  CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries (at);
  CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
  CREATE INDEX IF NOT EXISTS inbox_finished ON inbox (updated_at) WHERE state IN ('done', 'failed');
  `,
  // 6: the audit log's two questions (an operation's entries; the newest entries of one action,
  // such as every plan's "marked bad" versions) read their rows through an index instead of
  // walking the whole log backwards, which grew with its retention.
  `
  CREATE INDEX IF NOT EXISTS audit_operation ON audit (operation_id, id);
  CREATE INDEX IF NOT EXISTS audit_action ON audit (action, id);
  `,
];

export const MIGRATION_LOCK_KEY = 727274;

/** How many migrations this version of Conveyor has (a migrated template is made per level). */
export const MIGRATION_LEVEL = MIGRATIONS.length;

/** Apply pending migrations in one transaction under an advisory lock: replicas that start together wait. */
export async function migrate(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    for (const [i, sql] of MIGRATIONS.entries()) {
      if (done.has(i + 1)) continue;
      await tx.exec(sql);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
    }
  });
}
