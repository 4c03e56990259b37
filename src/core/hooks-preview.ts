/**
 * What a dry run says of the pre-deploy hooks (`verify.before`, `verify.restore`) a promotion or
 * rollback would run before its first write, by the same rules src/verify/before-hooks.ts runs
 * them: a promotion runs every `before` hook in order; a rollback runs `restore` with the backup
 * the promotion of the version it leaves recorded, and skips it when none was recorded.
 */
import type { Config } from '../config/schema.js';
import type { GitPlan } from './operation.js';
import type { Store } from './ports.js';

export async function hooksPreview(
  config: Config,
  store: Pick<Store, 'operations'>,
  kind: 'promote' | 'rollback',
  plan: GitPlan,
): Promise<string[]> {
  const verify = config.environments.find((e) => e.name === plan.env)?.verify;
  if (!verify) return [];
  if (kind === 'promote')
    return verify.before.map(
      (h, i) =>
        `${i + 1}. ${h.name} (${h.kind}${h.kind === 'job' ? `, image ${h.image}` : `, ${h.method} ${h.url.replace(/\?.*$/, '')}`}): must pass, or nothing is written`,
    );
  const restore = verify.restore;
  if (!restore) return [];
  const deployed = plan.fromTag
    ? (await store.operations({ app: plan.app, env: plan.env, kinds: ['promote'], limit: 50 })).find(
        (o) => o.progress.tag === plan.fromTag,
      )
    : undefined;
  const outputs = (deployed?.progress as { beforeHooks?: { outputs?: Record<string, string> } } | undefined)
    ?.beforeHooks?.outputs;
  const backup = outputs ? Object.values(outputs).find(Boolean) : undefined;
  return backup
    ? [`${restore.name} (job, image ${restore.image}) with backup ${backup}: must pass, or nothing is written`]
    : [`${restore.name} is skipped: no backup was recorded for ${plan.fromTag ?? 'the version left'}`];
}
