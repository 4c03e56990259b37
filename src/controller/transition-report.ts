/**
 * How a live-state transition is told: one line in the environment's channel naming the app,
 * the environment and the cluster, threaded under the announcement of the development version
 * it concerns when there is one. The first sight of a healthy workload is not news.
 */
import { findEnv, type Runtime } from '../core/runtime.js';
import { announcementOf, developmentEnv } from './dev-announcer.js';
import type { AggregateLive, AppTarget } from './live-reconciler.js';
import { whereText } from './live-reconciler.js';
import { postToEnv } from './verification.js';

const VERB: Record<AggregateLive['state'], string> = {
  healthy: 'is healthy',
  progressing: 'is rolling out',
  failed: 'FAILED',
  drifted: 'has drifted from Git',
  unknown: 'is not visible',
};

export function transitionText(target: AppTarget, live: AggregateLive, previous: string | undefined): string {
  return `${whereText(target)} ${VERB[live.state]}${previous ? ` (was ${previous})` : ''}: ${live.detail}`;
}

export async function reportTransition(
  runtime: Runtime,
  target: AppTarget,
  live: AggregateLive,
  previous: string | undefined,
): Promise<void> {
  if (previous === undefined && live.state === 'healthy') return;
  let thread = null;
  const dev = developmentEnv(runtime);
  if (target.env === dev.name) {
    const env = findEnv(runtime.config, dev.name)!;
    const head = await runtime.git.get(target.app)?.branchHead(env.branch);
    if (head) thread = await announcementOf(runtime, target.app, head);
  }
  await postToEnv(runtime, target.env, transitionText(target, live, previous), thread);
}
