/**
 * Personal API tokens: issued to a user, shown once, kept only as a hash, revocable.
 * A token reads `cvy_<id>_<secret>`.
 */
export interface ApiToken {
  id: string;
  owner: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export const TOKEN_PREFIX = 'cvy_';
/** `cvy_` + 12 lowercase letters or digits + `_` + 43 base64url characters (32 random bytes). */
export const TOKEN_SHAPE = /^cvy_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
export const TOKEN_ID = /^[a-z0-9]{12}$/;

export interface ApiTokens {
  /** A new token for `owner`: the plaintext is returned here once and never stored. */
  create(owner: string, label: string | null): Promise<{ token: string; record: ApiToken }>;
  /** The active token this plaintext is, or null (malformed, unknown, wrong secret, revoked); marks it used. */
  verify(token: string): Promise<ApiToken | null>;
  /** The owner's tokens, newest first (revoked ones too, marked). */
  list(owner: string): Promise<ApiToken[]>;
  get(id: string): Promise<ApiToken | null>;
  /** true when this call revoked it, false when it was revoked already. */
  revoke(id: string, owner: string): Promise<boolean>;
}
