/**
 * Leadership: with several replicas exactly one runs the watches and polls and posts what
 * they find. Implementations: a Kubernetes Lease (src/adapters/kube-lease.ts) when running in
 * a cluster, a PostgreSQL advisory lock (src/adapters/pg-leadership.ts) otherwise, and
 * `AlwaysLeader` for a single process on the embedded store (PGlite is one process anyway).
 */
export interface Leadership {
  /** Begin campaigning; `onChange` is called on every change of leadership. */
  start(onChange: (leader: boolean) => void): void | Promise<void>;
  /** Stop campaigning and hand leadership back. */
  stop(): Promise<void>;
  isLeader(): boolean;
}
