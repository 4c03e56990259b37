/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does
 * it: acquire when the lease has no holder or has expired, renew while held, and rely on the
 * lease's resourceVersion for optimistic concurrency (a 409 means another replica won).
 */
import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/ports.js';
import { CampaignLeadership } from './campaign-leadership.js';
import { describeKubeError, type KubeLog } from './kube.js';

export interface KubeLeaseLeadershipOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** Unique per replica, e.g. the pod name. */
  identity: string;
  /** How long a lease stays valid without renewal. Default 15. */
  leaseSeconds?: number;
  /** How often to try to acquire or renew. Default leaseSeconds × 1000 / 3. */
  renewEveryMs?: number;
  clock?: Clock;
  log?: KubeLog;
}

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

function timeOf(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = new Date(v as string | Date).getTime();
  return Number.isNaN(t) ? undefined : t;
}

export class KubeLeaseLeadership extends CampaignLeadership {
  private readonly api: CoordinationV1Api;
  private readonly leaseSeconds: number;
  private readonly renewEveryMs: number;
  private readonly clock: Clock;
  /** The lease is ours as far as we know (may be true briefly while stopping). */
  private held = false;
  /** Clock time of the last successful acquire/renew. */
  private lastRenew = 0;

  constructor(private readonly options: KubeLeaseLeadershipOptions) {
    super();
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.leaseSeconds = options.leaseSeconds ?? 15;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(100, Math.floor((this.leaseSeconds * 1000) / 3));
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Stop campaigning. With `release` (the default) a held lease is handed back at once by
   * clearing its holder; without, the lease simply expires (what a crash looks like).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    await this.halt();
    if (this.held && options.release !== false) {
      try {
        const lease = await this.read();
        if (lease?.spec?.holderIdentity === this.options.identity) {
          lease.spec.holderIdentity = '';
          lease.spec.leaseDurationSeconds = 1;
          lease.spec.renewTime = new V1MicroTime(this.clock.now().getTime());
          await this.api.replaceNamespacedLease({
            name: this.options.name,
            namespace: this.options.namespace,
            body: lease,
          });
        }
      } catch (err) {
        this.options.log?.warn({ lease: this.options.name, status: statusOf(err) }, 'could not release the lease');
      }
    }
    this.setLeader(false);
  }

  protected nextTickMs(): number {
    return this.renewEveryMs;
  }

  protected override setLeader(leader: boolean): void {
    if (!leader) this.held = false;
    super.setLeader(leader);
  }

  private async read(): Promise<V1Lease | null> {
    try {
      return await this.api.readNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
      });
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  protected async tick(): Promise<void> {
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      const status = statusOf(err);
      if (status === 409) {
        this.setLeader(false); // another replica changed the lease first
        return;
      }
      this.options.log?.warn({ lease: this.options.name, err: describeKubeError(err) }, 'lease acquire/renew failed');
      // Step down before the lease could expire for the others.
      const deadline = this.lastRenew + (this.leaseSeconds * 1000 * 2) / 3;
      if (this.leader && this.clock.now().getTime() >= deadline) this.setLeader(false);
    }
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { name, namespace, identity } = this.options;
    const now = this.clock.now().getTime();
    const nowMicro = new V1MicroTime(now);
    const lease = await this.read();
    if (!lease) {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.leaseSeconds,
          acquireTime: nowMicro,
          renewTime: nowMicro,
          leaseTransitions: 0,
        },
      };
      await this.api.createNamespacedLease({ namespace, body });
      return this.won(now);
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder === identity) {
      spec.renewTime = nowMicro;
      spec.leaseDurationSeconds = this.leaseSeconds;
      lease.spec = spec;
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return this.won(now);
    }
    const renewed = timeOf(spec.renewTime) ?? timeOf(spec.acquireTime) ?? 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000 < now;
    if (holder !== '' && !expired) {
      this.setLeader(false);
      return;
    }
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseSeconds,
      acquireTime: nowMicro,
      renewTime: nowMicro,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === '' ? 0 : 1),
    };
    // metadata.resourceVersion from the read makes this a compare-and-swap.
    await this.api.replaceNamespacedLease({ name, namespace, body: lease });
    this.options.log?.info?.({ lease: name, previous: holder || undefined }, 'lease acquired');
    return this.won(now);
  }

  private won(now: number): void {
    this.held = true;
    this.lastRenew = now;
    // Stopped while the request was in flight: stop() releases it without announcing leadership.
    if (this.running) this.setLeader(true);
  }
}
