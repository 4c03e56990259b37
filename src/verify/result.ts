/** What a check ends with, and how a run of measurements is judged (Argo Rollouts' rules). */
export type CheckStatus = 'passed' | 'failed' | 'inconclusive';

export interface CheckResult {
  status: CheckStatus;
  /** One short line: what was measured and why it passed or not (stored, posted, audited). */
  output: string;
}

export type Measurement = { status: CheckStatus; output: string };

/**
 * `count` measurements; failed when more than `failureLimit` failed, inconclusive when more than
 * `inconclusiveLimit` had no data; stops as soon as either is certain.
 */
export function tally(
  ms: Measurement[],
  limits: { count: number; failureLimit: number; inconclusiveLimit: number },
): CheckResult | null {
  const failed = ms.filter((m) => m.status === 'failed');
  const inconclusive = ms.filter((m) => m.status === 'inconclusive');
  const last = (xs: Measurement[]) => xs[xs.length - 1]!.output;
  if (failed.length > limits.failureLimit)
    return {
      status: 'failed',
      output: `${failed.length} of ${ms.length} measurement${ms.length === 1 ? '' : 's'} failed (limit ${limits.failureLimit}): ${last(failed)}`,
    };
  if (inconclusive.length > limits.inconclusiveLimit)
    return {
      status: 'inconclusive',
      output: `${inconclusive.length} of ${ms.length} measurement${ms.length === 1 ? '' : 's'} had no result (limit ${limits.inconclusiveLimit}): ${last(inconclusive)}`,
    };
  if (ms.length < limits.count) return null;
  const passed = ms.filter((m) => m.status === 'passed');
  return {
    status: 'passed',
    output:
      passed.length === ms.length
        ? `${ms.length === 1 ? '' : `${ms.length} of ${ms.length} measurements passed: `}${last(passed.length ? passed : ms)}`
        : `${passed.length} of ${ms.length} measurements passed (${failed.length} failed, ${inconclusive.length} without data, within limits): ${last(ms)}`,
  };
}
