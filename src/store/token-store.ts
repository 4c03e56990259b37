/**
 * Personal API tokens (table `api_tokens`, migration 4): issued to a Slack user from Slack,
 * shown once, kept only as a SHA-256 hash, revocable. A token reads `cvy_<id>_<secret>`: the id
 * finds the row, the whole token's hash is compared in constant time, and nothing says which
 * part was wrong.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type ApiToken, type ApiTokens, type Clock, TOKEN_PREFIX, TOKEN_SHAPE } from '../core/ports.js';
import type { Db } from './db.js';

// The token's shape is the core's (its ApiTokens port); re-exported for the store's own users.
export { type ApiToken, TOKEN_ID, TOKEN_PREFIX, TOKEN_SHAPE } from '../core/ports.js';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v);

function toToken(r: Record<string, unknown>): ApiToken {
  return {
    id: String(r.id),
    owner: String(r.owner),
    label: (r.label as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    lastUsedAt: iso(r.last_used_at),
    revokedAt: iso(r.revoked_at),
  };
}

/** A comparison that takes as long whether the hashes differ early, late or not at all. */
function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Compared against when no row matched, so an unknown id costs the same as a wrong secret. */
const NO_HASH = hashToken('cvy_none');

export class TokenStore implements ApiTokens {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly random: (n: number) => Buffer = randomBytes,
  ) {}

  private newId(): string {
    const bytes = this.random(12);
    return [...bytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
  }

  /** A new token for `owner`: the plaintext is returned here once and never stored. */
  async create(owner: string, label: string | null): Promise<{ token: string; record: ApiToken }> {
    for (;;) {
      const id = this.newId();
      const token = `${TOKEN_PREFIX}${id}_${this.random(32).toString('base64url')}`;
      const rows = await this.db.query<Record<string, unknown>>(
        `INSERT INTO api_tokens (id, owner, hash, label, created_at) VALUES ($1,$2,$3,$4,$5)
         ON CONFLICT DO NOTHING RETURNING *`,
        [id, owner, hashToken(token), label, this.clock.now().toISOString()],
      );
      if (rows[0]) return { token, record: toToken(rows[0]) };
    }
  }

  /** The active token this plaintext is, or null (malformed, unknown, wrong secret, revoked); marks it used. */
  async verify(token: string): Promise<ApiToken | null> {
    const m = TOKEN_SHAPE.exec(token);
    const rows = m
      ? await this.db.query<Record<string, unknown>>('SELECT * FROM api_tokens WHERE id = $1', [m[1]])
      : [];
    const row = rows[0];
    const match = sameHash(hashToken(token), row ? String(row.hash) : NO_HASH);
    if (!row || !match || row.revoked_at !== null) return null;
    const used = await this.db.query<Record<string, unknown>>(
      'UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING *',
      [row.id, this.clock.now().toISOString()],
    );
    return used[0] ? toToken(used[0]) : null;
  }

  /** The owner's tokens, newest first (revoked ones too, marked). */
  async list(owner: string): Promise<ApiToken[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT * FROM api_tokens WHERE owner = $1 ORDER BY created_at DESC, id',
      [owner],
    );
    return rows.map(toToken);
  }

  async get(id: string): Promise<ApiToken | null> {
    const rows = await this.db.query<Record<string, unknown>>('SELECT * FROM api_tokens WHERE id = $1', [id]);
    return rows[0] ? toToken(rows[0]) : null;
  }

  /** Revoke the owner's token `id`: true when this call revoked it, false when it was revoked already. */
  async revoke(id: string, owner: string): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND owner = $2 AND revoked_at IS NULL RETURNING id',
      [id, owner, this.clock.now().toISOString()],
    );
    return rows.length > 0;
  }
}
