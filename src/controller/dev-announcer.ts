/**
 * A push to the first environment's branch (development, branch `develop` by default) is the
 * new development version. It is announced once per commit, whoever saw it first: the
 * webhook, the poll, or another replica (the store's idempotency keys decide).
 */
import type { AppConfig } from '../config/schema.js';
import { shortSha, truncate } from '../core/format.js';
import type { MessageRef } from '../core/ports.js';
import type { Runtime } from '../core/runtime.js';
import { postToEnv } from './verification.js';

export interface PushInfo {
  subject?: string;
  author?: string;
  pusher?: string;
}

const announceKey = (app: string, sha: string) => `controller:dev-version:${app}:${sha}`;

export function developmentEnv(runtime: Runtime) {
  return runtime.config.environments[0]!;
}

/** Announce `sha` as the new development version of `app`; false when it was announced before. */
export async function announceDevVersion(
  runtime: Runtime,
  app: AppConfig,
  sha: string,
  info: PushInfo = {},
): Promise<boolean> {
  const env = developmentEnv(runtime);
  if (!env.channel || !runtime.notifier) return false;
  if (!(await runtime.store.claimKey(announceKey(app.name, sha)))) return false;
  let { subject, author } = info;
  if (subject === undefined || author === undefined) {
    const commit = await runtime.git
      .get(app.name)
      ?.commit(sha)
      .catch(() => null);
    subject ??= commit?.subject;
    author ??= commit?.author;
  }
  const target = app.targets[env.name];
  const where = target
    ? `deploying to cluster ${target.cluster} (namespace ${target.namespace})`
    : 'no cluster target is configured';
  const text =
    `New ${env.name} version of ${app.name}: ${shortSha(sha)}` +
    (subject ? ` "${truncate(subject.split('\n')[0]!, 80)}"` : '') +
    (author ? ` by ${author}` : '') +
    (info.pusher && info.pusher !== author ? ` (pushed by ${info.pusher})` : '') +
    ` on ${env.branch}; ${where}`;
  const ref = await postToEnv(runtime, env.name, text);
  await runtime.store.saveKeyReply(announceKey(app.name, sha), ref ?? {});
  return true;
}

/** The message announcing `sha`, to thread rollout reports under it. */
export async function announcementOf(runtime: Runtime, app: string, sha: string): Promise<MessageRef | null> {
  const reply = (await runtime.store.keyReply(announceKey(app, sha))) as Partial<MessageRef> | undefined;
  return reply?.channel && reply.ts ? { channel: reply.channel, ts: reply.ts } : null;
}
