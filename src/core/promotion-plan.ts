/**
 * Decide what a promotion or rollback will do, before anything is written: which stage,
 * which version, fast-forward or a new commit with the same tree, which commits ship.
 */
import type { AppConfig, EnvironmentConfig } from '../config/schema.js';
import { hostFor, readAppStates, type EnvState } from './env-state.js';
import { InputError, NotAllowedError, NotFoundError, UpstreamError } from './errors.js';
import type { GitPlan } from './operation.js';
import type { GitHost } from './ports.js';
import type { Runtime } from './runtime.js';

export interface PlanInput {
  app: AppConfig;
  env?: string;
  version?: string;
  ticket?: string;
}

export class NothingToDo extends Error {}

async function checkTicket(runtime: Runtime, env: EnvironmentConfig, ticket: string | undefined): Promise<string | null> {
  const policy = env.gate.changeTicket;
  if (policy === 'required' && !ticket) throw new NotAllowedError(`${env.name} needs a change ticket: add --ticket CHG…`);
  if (!ticket || policy === 'none') return ticket ?? null;
  if (!runtime.tickets) return ticket;
  const check = await runtime.tickets.check(ticket);
  if (check.verdict !== 'approved') {
    throw new NotAllowedError(`change ticket ${ticket} is ${check.verdict} (${check.detail}); ${env.name} needs an approved ticket`);
  }
  return ticket;
}

async function commitsToShip(host: GitHost, base: string | null, head: string) {
  const all = await host.log(base as string, head, 1000);
  return { commits: all.slice(0, 20), commitCount: all.length };
}

/** Has the source stage run this commit (it is in its history, or one of its tags has its tree)? */
async function sourceHasRun(host: GitHost, source: EnvState, sha: string): Promise<boolean> {
  if (source.head && (await host.isAncestor(sha, source.head))) return true;
  const tree = await host.treeOf(sha);
  for (const tag of source.tags) if ((await host.treeOf(tag.sha)) === tree) return true;
  return false;
}

export async function planPromotion(runtime: Runtime, input: PlanInput): Promise<GitPlan> {
  const envs = runtime.config.environments;
  const host = hostFor(runtime, input.app);
  const states = await readAppStates(runtime, input.app);
  let target: number;
  if (input.env) {
    target = envs.findIndex((e) => e.name === input.env);
    if (target === -1) throw new NotFoundError(`unknown environment "${input.env}"; environments: ${envs.map((e) => e.name).join(', ')}`);
    if (target === 0) throw new InputError(`${envs[0]!.name} takes pushes to ${envs[0]!.branch}; promote into a later stage`);
  } else {
    target = states.findIndex((s, i) => i > 0 && s.tree !== states[i - 1]!.tree);
    if (target === -1) throw new NothingToDo(`nothing to promote: every environment of ${input.app.name} runs the same version`);
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
      throw new NotAllowedError(`${input.version} has not run in ${source.env.name}; skipping a stage is not allowed for ${env.name}`);
    }
    sourceSha = resolved;
  }
  const sourceTree = sourceSha === source.head && source.tree ? source.tree : await host.treeOf(sourceSha);
  if (dest.tree === sourceTree) {
    throw new NothingToDo(`nothing to promote: ${env.name} already runs ${source.tag?.name ?? sourceSha.slice(0, 8)}`);
  }
  if (env.gate.requireChecks && host.checks) {
    const checks = await host.checks(sourceSha);
    if (checks === 'failure' || checks === 'pending') {
      throw new NotAllowedError(`the checks of ${sourceSha.slice(0, 8)} are ${checks === 'failure' ? 'failing' : 'still running'}; ${env.name} requires passing checks`);
    }
  }
  const ticket = await checkTicket(runtime, env, input.ticket);
  const ff = !dest.head || (await host.isAncestor(dest.head, sourceSha));
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
    ...(await commitsToShip(host, dest.head, sourceSha)),
    ticket,
    emergency: false,
    fromTag: dest.tag?.name ?? null,
    toTag: source.tags.find((t) => t.sha === sourceSha)?.name ?? null,
    reason: null,
  };
}

export async function planRollback(
  runtime: Runtime,
  input: { app: AppConfig; env: EnvironmentConfig; to?: string; ticket?: string; emergency: boolean },
): Promise<GitPlan> {
  const host = hostFor(runtime, input.app);
  const states = await readAppStates(runtime, input.app);
  const dest = states.find((s) => s.env.name === input.env.name)!;
  if (!dest.head || !dest.tree) throw new NotFoundError(`${input.env.name} has no branch ${input.env.branch} yet`);
  let to: { name: string; sha: string } | undefined;
  if (input.to) {
    const sha = await host.resolve(input.to);
    if (!sha || !/^[0-9a-f]{40}$/.test(sha) || !(await host.tags('')).some((t) => t.name === input.to)) {
      throw new NotFoundError(`no deploy tag "${input.to}" in ${input.app.name}`);
    }
    to = { name: input.to, sha };
  } else {
    for (const tag of dest.tags) {
      if ((await host.treeOf(tag.sha)) !== dest.tree) {
        to = tag;
        break;
      }
    }
    if (!to) throw new NothingToDo(`nothing to roll back to: ${input.env.name} has no earlier deploy tag with a different version`);
  }
  const sourceTree = await host.treeOf(to.sha);
  if (sourceTree === dest.tree) throw new NothingToDo(`${input.env.name} already runs the version of ${to.name}`);
  if (!host.openPullRequest && input.env.enters === 'pull-request') {
    // plain remotes: the bot's own gate stands in for the PR review
  }
  return {
    app: input.app.name,
    env: input.env.name,
    branch: input.env.branch,
    sourceEnv: null,
    sourceSha: to.sha,
    sourceTree,
    targetHead: dest.head,
    mode: 'commit',
    viaPullRequest: input.env.enters === 'pull-request' && !input.emergency,
    commits: [],
    commitCount: 0,
    ticket: await checkTicket(runtime, input.env, input.ticket),
    emergency: input.emergency,
    fromTag: dest.tag?.name ?? null,
    toTag: to.name,
    reason: null,
  };
}

export function describePlan(plan: GitPlan, host: GitHost, tagPreview: string): string[] {
  const lines = [
    `${plan.branch}: ${plan.targetHead ? plan.targetHead.slice(0, 8) : '(new branch)'} → ${plan.mode === 'fast-forward' ? plan.sourceSha.slice(0, 8) : `a new commit on top with the tree of ${plan.sourceSha.slice(0, 8)}`}`,
    plan.viaPullRequest && host.openPullRequest ? `through a pull request into ${plan.branch}, merged when the gate is satisfied` : 'pushed directly (no force)',
    `deploy tag: ${tagPreview} (annotated)`,
  ];
  if (plan.commitCount) lines.push(`${plan.commitCount} commit(s) ship`);
  return lines;
}

export function assertConnected(runtime: Runtime, app: AppConfig): void {
  if (!runtime.git.get(app.name)) throw new UpstreamError('git', `no repository is connected for ${app.name}`);
}
