/**
 * The smallest SQL surface both state backends share: PGlite (embedded, a local folder) and
 * PostgreSQL (pg). The store and its migrations are written once against this.
 */
export interface Db {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Run fn in one transaction; rolled back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Multi-statement SQL without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  readonly kind: 'pglite' | 'postgres';
  /** The folder of an embedded (PGlite) store; undefined in memory and for PostgreSQL. */
  readonly dir?: string;
}
