/** The loop every measured check shares: attempts with retries, measurements spaced by `interval`. */
import type { CheckResult, Measurement } from './result.js';
import { tally } from './result.js';

/** Resolves after `ms`, or at once (rejecting) when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface MeasureOptions {
  count: number;
  failureLimit: number;
  inconclusiveLimit?: number;
  retries: number;
  interval: number;
  signal?: AbortSignal;
  /** After each measurement (for progress lines). */
  onMeasurement?: (m: Measurement, index: number) => void | Promise<void>;
}

/**
 * Take measurements until the tally is certain. `attempt` makes one try; `retry` says whether a
 * try's result is worth another try (retries left, `interval` apart).
 */
export async function measure(
  attempt: () => Promise<Measurement>,
  retry: (m: Measurement) => boolean,
  o: MeasureOptions,
): Promise<CheckResult> {
  const taken: Measurement[] = [];
  for (let i = 0; ; i++) {
    let m = await attempt();
    for (let r = 0; r < o.retries && retry(m); r++) {
      await pause(o.interval, o.signal);
      m = await attempt();
    }
    taken.push(m);
    await o.onMeasurement?.(m, i);
    const verdict = tally(taken, {
      count: o.count,
      failureLimit: o.failureLimit,
      inconclusiveLimit: o.inconclusiveLimit ?? 0,
    });
    if (verdict) return verdict;
    await pause(o.interval, o.signal);
  }
}

/** "https://svc/health" without query or credentials: what messages may show of a URL. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

/** A network error as one line: its code and message, no stack. */
export function networkError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT')
    return 'timed out';
  const code = e?.cause?.code ?? e?.code;
  const message = e?.cause?.message ?? e?.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
