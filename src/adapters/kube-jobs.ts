/**
 * The `Jobs` port over Kubernetes (batch/v1 Jobs, their pods' logs), for verification checks.
 * Errors become one secret-free line (describeKubeError).
 */
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { UpstreamError } from '../core/errors.js';
import type { JobManifest, JobState, Jobs } from '../verify/jobs.js';
import { describeKubeError } from './kube.js';

const statusOf = (err: unknown) => (err as { code?: number }).code;

/** A Job's phase from its status, as the Job controller reports it (conditions first). */
export function jobState(job: V1Job): JobState {
  const conditions = job.status?.conditions ?? [];
  const met = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const done = met('Complete');
  if (done) return { phase: 'succeeded', detail: done.message || 'complete' };
  const failed = met('Failed');
  if (failed)
    return { phase: 'failed', detail: [failed.reason, failed.message].filter(Boolean).join(': ') || 'failed' };
  const s = job.status ?? {};
  const counts = `${s.active ?? 0} active, ${s.succeeded ?? 0} succeeded, ${s.failed ?? 0} failed`;
  return { phase: (s.active ?? 0) > 0 ? 'running' : 'pending', detail: counts };
}

export class KubeJobs implements Jobs {
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async create(job: JobManifest): Promise<'created' | 'exists'> {
    try {
      await this.batch.createNamespacedJob({ namespace: job.metadata.namespace, body: job as unknown as V1Job });
      return 'created';
    } catch (err) {
      if (statusOf(err) === 409) return 'exists';
      throw new UpstreamError('kubernetes', describeKubeError(err));
    }
  }

  async read(namespace: string, name: string): Promise<JobState> {
    try {
      return jobState(await this.batch.readNamespacedJob({ namespace, name }));
    } catch (err) {
      if (statusOf(err) === 404) return { phase: 'missing', detail: 'not found' };
      throw new UpstreamError('kubernetes', describeKubeError(err));
    }
  }

  async logTail(namespace: string, name: string, lines: number): Promise<string> {
    const pods = await this.core.listNamespacedPod({
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${name}`,
    });
    const at = (p: (typeof pods.items)[number]) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
    // Timestamps have a second's resolution: the last few pods, each named, oldest first.
    const recent = [...pods.items].sort((a, b) => at(a) - at(b)).slice(-3);
    const tails = await Promise.all(
      recent.map(async (p) => {
        const pod = p.metadata?.name ?? '';
        const text = await this.core.readNamespacedPodLog({
          namespace,
          name: pod,
          container: 'check',
          tailLines: lines,
        });
        return recent.length > 1 ? `--- pod ${pod} ---\n${text}` : text;
      }),
    );
    return tails.join('');
  }

  async output(namespace: string, name: string): Promise<string> {
    const pods = await this.core.listNamespacedPod({
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${name}`,
    });
    const done = pods.items.find((p) => p.status?.phase === 'Succeeded');
    const pod = done?.metadata?.name;
    if (!pod) return '';
    const message = done.status?.containerStatuses?.[0]?.state?.terminated?.message?.trim();
    if (message) return message;
    const tail = await this.core.readNamespacedPodLog({ namespace, name: pod, container: 'check', tailLines: 1 });
    return tail.trim();
  }

  async remove(namespace: string, name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' });
    } catch (err) {
      if (statusOf(err) !== 404) throw new UpstreamError('kubernetes', describeKubeError(err));
    }
  }
}
