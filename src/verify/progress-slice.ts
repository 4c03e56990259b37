/**
 * The verification slices of an operation's progress: `verifyChecks` (the checks after a
 * rollout), `soak` (the soak window) and `beforeHooks` (pre-deploy hooks), each written only by
 * its own module. They are not among the core's typed slices (src/core/operation.ts) yet, so
 * they are handed to the store's merge as they are.
 */
import type { ProgressPatch } from '../core/operation.js';

export interface VerifySlices {
  verifyChecks?: unknown;
  soak?: unknown;
  beforeHooks?: unknown;
  commandChecks?: unknown;
}

export const verifySlice = (slice: VerifySlices): ProgressPatch => slice as unknown as ProgressPatch;
