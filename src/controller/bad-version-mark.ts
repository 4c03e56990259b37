/**
 * After a failed verification or a failure inside a soak window: mark the promoted version bad
 * in its environment (src/core/bad-versions.ts) and say so. A mark that cannot be written is
 * logged; the verdict stands.
 */
import { markVersionBad } from '../core/bad-versions.js';
import type { Operation } from '../core/operation.js';
import type { Runtime } from '../core/runtime.js';

export async function markedBadLine(runtime: Runtime, op: Operation, reason: string): Promise<string> {
  try {
    const mark = await markVersionBad(runtime.store, op, reason);
    if (!mark) return '';
    const envs = runtime.config.environments.map((e) => e.name);
    const later = envs.slice(envs.indexOf(op.env) + 1);
    return later.length
      ? `${mark.tag ?? mark.sha.slice(0, 8)} is marked bad: it does not move on to ${later.join(', ')} without --force`
      : '';
  } catch (err) {
    runtime.log.warn({ operation: op.id, err: (err as Error).message }, 'could not mark the version bad');
    return '';
  }
}
