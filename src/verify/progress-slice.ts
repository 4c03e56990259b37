/**
 * The verification slices of an operation's progress: `verifyChecks` (the checks after a
 * rollout), `soak` (the soak window), `beforeHooks` (pre-deploy hooks) and `commandChecks`
 * (tasks for verification workers), each written only by its own module and typed here, so a
 * writer cannot store the wrong shape. They are not among the core's typed slices
 * (src/core/operation.ts), so the store's merge receives them through one cast, here.
 */
import type { VerifyChecksProgress } from '../controller/verify-checks.js';
import type { ProgressPatch } from '../core/operation.js';
import type { SoakProgress } from '../core/soak.js';
import type { HookProgress } from './before-hooks.js';
import type { CommandTasks } from './command-task.js';

export interface VerifySlices {
  verifyChecks?: VerifyChecksProgress;
  soak?: SoakProgress;
  beforeHooks?: HookProgress;
  commandChecks?: CommandTasks;
}

export const verifySlice = (slice: VerifySlices): ProgressPatch => slice as unknown as ProgressPatch;
