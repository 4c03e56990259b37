/** Key-value with compare-and-swap and blocking watches (Consul, or the embedded table). */
export interface KvEntry {
  key: string;
  value: string;
  modifyIndex: number;
}

export interface KvStore {
  get(key: string): Promise<KvEntry | null>;
  /**
   * Write a key. With `cas`, only when the key's modifyIndex equals it (0: only when absent).
   * Returns false when the CAS was lost.
   */
  put(key: string, value: string, options?: { cas?: number }): Promise<boolean>;
  /**
   * Blocking query: resolves once the key's index passes `index`, or after `waitMs` with the
   * same index (a return is not a change). Rejects with an AbortError when `signal` aborts.
   */
  watch(
    key: string,
    index: number,
    options: { waitMs: number; signal?: AbortSignal },
  ): Promise<{ entry: KvEntry | null; index: number }>;
}
