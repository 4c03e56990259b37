/**
 * Follow one key of any KvStore with blocking queries (no timer polling).
 *
 * Yields the key's current state first (null when absent), then again only when the value or
 * the modifyIndex really changed — a blocking query that returns is not a change. Errors are
 * retried with exponential backoff and jitter (p-retry), bounded by `backoff.maxMs`; an index
 * that goes backwards (snapshot restore) restarts the watch from 0. Ends quietly when `signal`
 * aborts; throws only errors that must not be retried (a ConveyorError with retryable=false).
 */
import pRetry from 'p-retry';
import { isConveyorError } from './errors.js';
import type { KvEntry, KvStore } from './ports.js';

export interface WatchBackoff {
  /** First delay after a failure. Default 1 s. */
  minMs?: number;
  /** Upper bound of one delay. Default 60 s. */
  maxMs?: number;
  /** Growth per failure. Default 2. */
  factor?: number;
}

export interface WatchKeyOptions {
  signal?: AbortSignal;
  /** Longest time one blocking query waits (the store caps it too). Default 5 min. */
  waitMs?: number;
  backoff?: WatchBackoff;
  /** Told about each failed attempt (for logs and metrics); the watch goes on. */
  onError?: (err: unknown, attempt: number) => void;
}

export async function* watchKey(
  kv: KvStore,
  key: string,
  options: WatchKeyOptions = {},
): AsyncGenerator<KvEntry | null, void, undefined> {
  const { signal, waitMs = 300_000, backoff = {}, onError } = options;
  let index = 0;
  let first = true;
  let last: KvEntry | null = null;
  while (!signal?.aborted) {
    let result: { entry: KvEntry | null; index: number };
    const from = index;
    try {
      result = await pRetry(() => kv.watch(key, from, { waitMs, signal }), {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: backoff.minMs ?? 1000,
        maxTimeout: backoff.maxMs ?? 60_000,
        factor: backoff.factor ?? 2,
        randomize: true,
        signal,
        shouldRetry: ({ error }) => !(isConveyorError(error) && !error.retryable) && !signal?.aborted,
        onFailedAttempt: ({ error, attemptNumber }) => {
          if (!signal?.aborted) onError?.(error, attemptNumber);
        },
      });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    // Backwards (restore) or nonsense: start over with a non-blocking read.
    index = !Number.isSafeInteger(result.index) || result.index < from ? 0 : result.index;
    // An index of 0 after a non-blocking read would never block: Consul advises 1 instead.
    if (from === 0 && index === 0) index = 1;
    const entry = result.entry;
    if (first || changed(last, entry)) {
      first = false;
      last = entry;
      yield entry;
    }
  }
}

function changed(a: KvEntry | null, b: KvEntry | null): boolean {
  if (a === null || b === null) return a !== b;
  return a.value !== b.value || a.modifyIndex !== b.modifyIndex;
}
