/** The port a `job` check runs Kubernetes Jobs through (src/adapters/kube-jobs.ts implements it). */

/** A batch/v1 Job as sent to the API server (built by job-manifest.ts). */
export interface JobManifest {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface JobState {
  /** missing: no such Job; pending: created, no pod running yet. */
  phase: 'missing' | 'pending' | 'running' | 'succeeded' | 'failed';
  /** The condition's reason and message, or the pod counts. */
  detail: string;
}

export interface Jobs {
  /** Create it; `exists` when a Job of that name is already there (a resumed check). */
  create(job: JobManifest): Promise<'created' | 'exists'>;
  read(namespace: string, name: string): Promise<JobState>;
  /** The last lines of the logs of the Job's newest pods, each named when there are several ('' when none). */
  logTail(namespace: string, name: string, lines: number): Promise<string>;
  /**
   * What a succeeded Job reports: its pod's termination message (the container writes it to
   * /dev/termination-log), else the last line of its log; '' when there is neither.
   */
  output(namespace: string, name: string): Promise<string>;
  /** Delete the Job and its pods (background propagation); absent is fine. */
  remove(namespace: string, name: string): Promise<void>;
}

/** The Jobs of one cluster, or null when Conveyor has no client for it. */
export type JobsFor = (cluster: string) => Promise<Jobs | null>;
