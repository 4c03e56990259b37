/**
 * Decide what a promotion or rollback will do, before anything is written: which stage,
 * which version, fast-forward or a new commit with the same tree, which commits ship.
 * Every refusal a plan can meet is raised here, so `--dry-run` and `diff`'s advice see it too.
 */
import type { AppConfig, Config, EnvironmentConfig } from '../config/schema.js';
import { requiredRoles } from './approval-gate.js';
import { badMarks } from './bad-versions.js';
import {
  type DeployHistory,
  entryName,
  type HistoryEntry,
  rollbackCandidates,
  rollbackTarget,
} from './deploy-history.js';
import { deployTagPrefix } from './deploy-tag.js';
import { type EnvState, hostFor, readAppStates } from './env-state.js';
import { InputError, NotAllowedError, NotFoundError, UpstreamError } from './errors.js';
import { gateContext } from './gates/context.js';
import type { GateContext } from './gates/gate-rule.js';
import { historyOf } from './gates/rolled-back.js';
import { enforceGates } from './gates/run-gates.js';
import type { GitPlan } from './operation.js';
import { SHA } from './patterns.js';
import type { GitHost } from './ports.js';
import type { Runtime } from './runtime.js';
import { shownTag, shownTagOrNull, typedTag } from './tag-names.js';

export interface PlanInput {
  app: AppConfig;
  env?: string;
  version?: string;
  ticket?: string;
  /** Who asks: decides whether --force is theirs to use. */
  requester: string;
  /** Ship a version that was rolled back from (needs the target's gate roles). */
  force?: boolean;
}

export class NothingToDo extends Error {}

/** An environment's deploy history (its rule lives in ./gates/rolled-back.ts). */
export { historyOf };

/**
 * The plan-time gates (src/core/gates/index.ts, phase `plan`): a version rolled back from,
 * required checks, the change ticket. Returns the note a forced plan carries, or null.
 */
async function checkPlanGates(
  runtime: Runtime,
  req: { kind: 'promote' | 'rollback'; app: string; env: string; requester: string; emergency: boolean },
  extra: Pick<GateContext, 'ticket' | 'promotion'>,
): Promise<string | null> {
  const outcome = await enforceGates(gateContext(runtime, 'plan', req, extra));
  return outcome.verdict === 'pass' ? (outcome.notes[0] ?? null) : null;
}

async function commitsToShip(host: GitHost, base: string | null, head: string) {
  // Image apps: the application commits between the two images (none when they are unknown),
  // not the commits of the version branches that record the images.
  const images = await host.compareVersions?.(base, head);
  if (images) return { commits: (images.commits ?? []).slice(0, 20), commitCount: images.commitCount ?? 0 };
  const all = await host.log(base as string, head, 1000);
  return { commits: all.slice(0, 20), commitCount: all.length };
}

/** Has the source stage run this commit (it is in its history, or one of its tags has its tree)? */
async function sourceHasRun(host: GitHost, source: EnvState, sha: string): Promise<boolean> {
  if (source.head && (await host.isAncestor(sha, source.head))) return true;
  const tree = await host.treeOf(sha);
  return source.tags.some((t) => t.tree === tree);
}

export async function planPromotion(runtime: Runtime, input: PlanInput): Promise<GitPlan> {
  const envs = runtime.config.environments;
  const host = hostFor(runtime, input.app);
  // The store's marks are read while the mirror fetches (neither needs the other).
  const marks = badMarks(runtime.store, input.app.name);
  marks.catch(() => undefined); // awaited below; a plan refused before that has no use for it
  const states = await readAppStates(runtime, input.app);
  let target: number;
  if (input.env) {
    target = envs.findIndex((e) => e.name === input.env);
    if (target === -1)
      throw new NotFoundError(
        `unknown environment "${input.env}"; environments: ${envs.map((e) => e.name).join(', ')}`,
      );
    if (target === 0)
      throw new InputError(`${envs[0]!.name} takes pushes to ${envs[0]!.branch}; promote into a later stage`);
  } else {
    target = states.findIndex((s, i) => i > 0 && s.tree !== states[i - 1]!.tree);
    if (target === -1)
      throw new NothingToDo(`nothing to promote: every environment of ${input.app.name} runs the same version`);
  }
  const env = envs[target]!;
  const source = states[target - 1]!;
  const dest = states[target]!;
  if (!source.head) throw new NotFoundError(`${source.env.name} has no branch ${source.env.branch} yet`);
  let sourceSha = source.head;
  if (input.version) {
    const resolved = await host.resolve(input.version);
    if (!resolved) throw new NotFoundError(`no tag or commit "${input.version}" in ${input.app.name}`);
    if (!env.allowSkip && !(await sourceHasRun(host, source, resolved))) {
      throw new NotAllowedError(
        `${input.version} has not run in ${source.env.name}; skipping a stage is not allowed for ${env.name}`,
      );
    }
    sourceSha = resolved;
  }
  const sourceTree = sourceSha === source.head && source.tree ? source.tree : await host.treeOf(sourceSha);
  if (dest.tree === sourceTree) {
    throw new NothingToDo(
      `nothing to promote: ${env.name} already runs ${input.version ?? shownTagOrNull(host, source.tag?.name) ?? sourceSha.slice(0, 8)}`,
    );
  }
  const label =
    input.version ?? shownTagOrNull(host, source.tags.find((t) => t.sha === sourceSha)?.name) ?? sourceSha.slice(0, 8);
  const forced = await checkPlanGates(
    runtime,
    { kind: 'promote', app: input.app.name, env: env.name, requester: input.requester, emergency: false },
    {
      ticket: input.ticket ?? null,
      promotion: {
        states,
        target,
        tree: sourceTree,
        label,
        sourceSha,
        force: input.force,
        version: input.version,
        ticket: input.ticket,
        checks: host.checks ? (sha) => host.checks!(sha) : undefined,
        markedBad: await marks,
      },
    },
  );
  const ticket = input.ticket ?? null;
  // Two reads of the mirror that do not depend on each other, asked at once.
  const [ff, shipping] = await Promise.all([
    !dest.head || host.isAncestor(dest.head, sourceSha),
    commitsToShip(host, dest.head, sourceSha),
  ]);
  return {
    app: input.app.name,
    env: env.name,
    branch: env.branch,
    sourceEnv: source.env.name,
    sourceSha,
    sourceTree,
    targetHead: dest.head,
    mode: ff ? 'fast-forward' : 'commit',
    viaPullRequest: env.enters === 'pull-request',
    ...shipping,
    ticket,
    emergency: false,
    fromTag: shownTagOrNull(host, dest.tag?.name),
    toTag: shownTagOrNull(host, source.tags.find((t) => t.sha === sourceSha)?.name),
    reason: forced,
  };
}

export async function planRollback(
  runtime: Runtime,
  input: {
    app: AppConfig;
    env: EnvironmentConfig;
    to?: string;
    ticket?: string;
    emergency: boolean;
    requester?: string;
  },
): Promise<GitPlan> {
  const host = hostFor(runtime, input.app);
  // What a rollback ships comes from the deploy tags, which only a fetch brings exactly (ADR 0004).
  const states = await readAppStates(runtime, input.app, { fetch: true });
  const dest = states.find((s) => s.env.name === input.env.name)!;
  if (!dest.head || !dest.tree) throw new NotFoundError(`${input.env.name} has no branch ${input.env.branch} yet`);
  const history = historyOf(dest);
  let to: HistoryEntry | null;
  if (input.to) {
    if (/^[0-9a-f]{1,6}$/.test(input.to))
      throw new InputError(`"${input.to}" is too short for a sha: give at least 7 hex digits, or a deploy tag`);
    to = await findInHistory(host, history, typedTag(host, input.to));
    if (!to) {
      const candidates = rollbackCandidates(history)
        .slice(0, 8)
        .map((e) => `${nameOf(host, e)}${e.mark === 'rolled-back-from' ? ' (rolled back from)' : ''}`);
      const typed = typedTag(host, input.to);
      const otherEnv = runtime.config.environments.find(
        (e) => e.name !== input.env.name && typed.startsWith(deployTagPrefix(runtime.config.git.tagFormat, e.name)),
      );
      const what = otherEnv
        ? `${input.to} is a deploy tag of ${otherEnv.name}, not of ${input.env.name}`
        : (await host.resolve(input.to))
          ? `${input.to} never ran in ${input.env.name}`
          : `there is no deploy tag or commit "${input.to}"`;
      throw new NotAllowedError(
        `${what}; rollback --to takes a version that ran in ${input.env.name}: ${candidates.length ? candidates.join(', ') : '(none yet)'}`,
      );
    }
    if (to.tree === dest.tree) throw new NothingToDo(`${input.env.name} already runs the version of ${input.to}`);
  } else {
    to = rollbackTarget(history);
    if (!to) {
      throw new NothingToDo(
        `nothing to roll back to: ${input.env.name} has no earlier version that was not itself rolled back from (see: history ${input.app.name} ${input.env.name})`,
      );
    }
  }
  const req = {
    kind: 'rollback' as const,
    app: input.app.name,
    env: input.env.name,
    requester: input.requester ?? '',
    emergency: input.emergency,
  };
  await checkPlanGates(runtime, req, { ticket: input.ticket ?? null });
  return {
    app: input.app.name,
    env: input.env.name,
    branch: input.env.branch,
    sourceEnv: null,
    sourceSha: to.sha,
    sourceTree: to.tree,
    targetHead: dest.head,
    mode: 'commit',
    viaPullRequest: input.env.enters === 'pull-request' && !input.emergency,
    commits: [],
    commitCount: 0,
    ticket: input.ticket ?? null,
    emergency: input.emergency,
    fromTag: shownTagOrNull(host, dest.tag?.name),
    toTag: shownTagOrNull(host, to.tag),
    reason:
      to.mark === 'rolled-back-from'
        ? `returns on purpose to ${nameOf(host, to)}, which ${input.env.name} rolled back from`
        : null,
  };
}

/** How a history entry is named to a person: its deploy tag as `git tag` lists it, or its short sha. */
export function nameOf(host: GitHost | undefined, e: Pick<HistoryEntry, 'tag' | 'sha'>): string {
  return e.tag ? shownTag(host, e.tag) : entryName(e);
}

/** `--to`: a deploy tag of this environment, or a commit that ran here (by sha, or by its tree). */
async function findInHistory(host: GitHost, history: DeployHistory, ref: string): Promise<HistoryEntry | null> {
  const byTag = history.entries.find((e) => e.tag === ref);
  if (byTag) return byTag;
  if (!SHA.test(ref)) return null;
  const sha = await host.resolve(ref);
  if (!sha) return null;
  const bySha = history.entries.find((e) => e.sha === sha);
  if (bySha) return bySha;
  const tree = await host.treeOf(sha).catch(() => null);
  return history.entries.find((e) => e.tree === tree) ?? null;
}

/** Who can fill each role of a gate: users and groups from the configuration. */
export function whoCanFill(config: Config, roles: Record<string, number>): string[] {
  return Object.entries(roles).map(([role, n]) => {
    const who = config.roles[role];
    const names = [...(who?.users ?? []), ...(who?.groups ?? []).map((g) => `group ${g}`)];
    return `${n} ${role} (${names.length ? names.join(', ') : 'nobody is configured for this role'})`;
  });
}

export function describePlan(
  plan: GitPlan,
  host: GitHost,
  tagPreview: string,
  kind: 'promote' | 'rollback',
  config: Config,
  requester: string,
  /** What changes between the branch head and the tree that ships (a new commit's real effect). */
  change?: { files: number; added: number; deleted: number } | null,
  /** The host's own words for the write (image apps: the GitOps file and field); replaces the branch lines. */
  write?: string[] | null,
): string[] {
  const to =
    plan.mode === 'fast-forward'
      ? `${plan.sourceSha.slice(0, 8)} (fast-forward)`
      : `a new commit on top with the tree of ${plan.sourceSha.slice(0, 8)}`;
  const lines = write?.length
    ? [...write]
    : [`${plan.branch}: ${plan.targetHead ? plan.targetHead.slice(0, 8) : '(new branch)'} → ${to}`];
  if (plan.viaPullRequest && host.openPullRequest)
    lines.push(`through a pull request into ${plan.branch}, merged when the gate is satisfied`);
  else if (plan.viaPullRequest)
    lines.push(
      `${plan.env} enters by pull request, but this remote has none: Conveyor's gate stands in for the review, then it pushes (no force)`,
    );
  else lines.push('pushed directly (no force)');
  lines.push(`deploy tag: ${tagPreview} (annotated)`);
  if (plan.toTag) lines.push(`version: ${plan.toTag}`);
  if (plan.mode === 'fast-forward' && plan.commitCount && !write?.length)
    lines.push(`${plan.commitCount} commit(s) ship`);
  if (plan.mode === 'commit' && change && !write?.length) {
    // Not a fast-forward: what ships is a tree, not the commits between; say what really changes.
    lines.push(
      `${change.files} file(s) change on ${plan.branch} (+${change.added} -${change.deleted})${plan.commitCount ? `; ${plan.commitCount} commit(s) of ${plan.sourceEnv ?? 'that version'} are not in its history (some may be undone there)` : ''}`,
    );
  }
  if (plan.ticket) lines.push(`change ticket: ${plan.ticket}`);
  if (plan.reason) lines.push(`note: ${plan.reason}`);
  const env = config.environments.find((e) => e.name === plan.env);
  const roles = env ? requiredRoles(env.gate, kind, plan.emergency) : {};
  lines.push(
    Object.keys(roles).length
      ? `waits for approval, never by ${requester}: ${whoCanFill(config, roles).join('; ')}`
      : 'needs no approval: it applies at once',
  );
  return lines;
}

export function assertConnected(runtime: Runtime, app: AppConfig): void {
  if (!runtime.git.get(app.name)) throw new UpstreamError('git', `no repository is connected for ${app.name}`);
}
