/**
 * A `conveyor serve` one scenario leaves running for the next one to use as its set-up: the
 * footprint scenario's restarted serve (measured: its time to ready and idle memory) is the
 * serve that `cli-list` runs its commands beside, when cli-list comes right after it, instead of
 * stopping it there and starting another on a copy of the same sandbox.
 */
import type { Child } from './proc.js';

export interface RunningServe {
  child: Child;
  /** Its folder (the one holding `.conveyor/sandbox`), where the CLI finds it. */
  cwd: string;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}

let offered: RunningServe | null = null;

/** Leaves `serve` running for the next scenario (which takes it, and then owns it). */
export function offerServe(serve: RunningServe): void {
  offered = serve;
}

/** The serve the previous scenario left running, or null; the caller stops it. */
export function takeServe(): RunningServe | null {
  const serve = offered;
  offered = null;
  return serve;
}
