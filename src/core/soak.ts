/**
 * A soak window as recorded on the operation it follows (`progress.soak`, written by the
 * controller's soak watcher): the environment stays under watch until `until`, its checks
 * evaluated every interval. `list` and the board read it to say an environment is under watch.
 */
import type { Operation } from './operation.js';

export interface SoakProgress {
  until: string;
  lastAt: string;
  checks: string[];
  runs: number;
  ended?: 'passed' | 'failed' | 'superseded';
  endedAt?: string;
  failure?: string;
}

export const soakOf = (op: Operation): SoakProgress | undefined => (op.progress as { soak?: SoakProgress }).soak;

/** The window still open on this operation at `now`: its end, or null. */
export function underWatchUntil(op: Operation, now: Date): string | null {
  const soak = soakOf(op);
  if (!soak || soak.ended || op.state !== 'succeeded') return null;
  return new Date(soak.until).getTime() > now.getTime() ? soak.until : null;
}
