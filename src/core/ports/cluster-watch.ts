/** What the clusters run (Kubernetes informers). */
export interface WorkloadTarget {
  /** kubeconfig context name, or "in-cluster". */
  cluster: string;
  namespace: string;
  /** Deployment name. */
  name: string;
}

export interface WorkloadCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface WorkloadStatus extends WorkloadTarget {
  images: string[];
  generation: number;
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  conditions: WorkloadCondition[];
  /** false when the Deployment was deleted or cannot be seen. */
  exists: boolean;
}

export interface ClusterWatch {
  /** Start informers for the targets; `onChange` gets every observed state (the caller dedups). */
  start(targets: WorkloadTarget[], onChange: (status: WorkloadStatus) => void): Promise<void>;
  stop(): Promise<void>;
}
