/**
 * Leadership: with several replicas exactly one runs the watches and polls and posts what
 * they find. Implementations: a Kubernetes Lease (src/adapters/kube-lease.ts) when running in
 * a cluster, a PostgreSQL advisory lock (src/adapters/pg-leadership.ts) otherwise, and
 * `AlwaysLeader` for a single process on the embedded store (PGlite is one process anyway).
 */
import type { Leadership } from '../core/ports.js';

export type { Leadership } from '../core/ports.js';

export class AlwaysLeader implements Leadership {
  private leader = false;

  start(onChange: (leader: boolean) => void): void {
    if (this.leader) return;
    this.leader = true;
    onChange(true);
  }

  async stop(): Promise<void> {
    this.leader = false;
  }

  isLeader(): boolean {
    return this.leader;
  }
}
