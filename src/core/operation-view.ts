/** How an operation looks in a reply and in its living Slack message. */
import type { QuorumStatus } from './approval-gate.js';
import { shortSha, truncate } from './format.js';
import { isGitPlan, type Operation } from './operation.js';
import type { OperationCard, Reply, ReplyBlock, ReplyButton, WebLinks } from './reply.js';

const STATE_WORDS: Record<Operation['state'], string> = {
  requested: 'requested',
  'awaiting-approval': 'waiting for approval',
  approved: 'approved',
  applying: 'applying',
  applied: 'applied',
  verifying: 'verifying the rollout',
  succeeded: 'succeeded',
  failed: 'failed',
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
};

export function operationHeadline(op: Operation): string {
  const plan = op.plan;
  const what = isGitPlan(plan)
    ? `${op.kind} ${op.app} ${plan.sourceEnv ?? plan.fromTag ?? ''} → ${op.env}`.replace(/\s+/g, ' ')
    : `${op.kind} ${op.env} ${plan.fromVersion ?? '(none)'} → ${plan.toVersion}`;
  return `${what}: ${STATE_WORDS[op.state]} (${op.id})`;
}

const FINAL = new Set(['succeeded', 'failed', 'rejected', 'expired', 'cancelled']);

export interface RenderOperationOptions {
  /** Where the Slack layout links commits, compare views and tags (commit-links.ts). */
  web?: WebLinks | null;
  /** The app's deploy tags carry this prefix in its repository (GitHost.tagNamespace): shown with it. */
  tagNamespace?: string;
}

export function renderOperation(
  op: Operation,
  gate?: QuorumStatus | null,
  extra: ReplyBlock[] = [],
  options: RenderOperationOptions = {},
): Reply {
  const blocks: ReplyBlock[] = [];
  const plan = op.plan;
  const facts: string[] = [`asked by ${op.requester}`];
  if (isGitPlan(plan)) {
    facts.push(
      `ships ${shortSha(plan.sourceSha)} (${plan.mode === 'fast-forward' ? 'fast-forward' : 'new commit with the same tree'})`,
    );
    if (plan.toTag) facts.push(`to ${plan.toTag}`);
    if (plan.ticket) facts.push(`ticket ${plan.ticket}`);
    if (plan.emergency) facts.push('EMERGENCY');
    if (plan.reason) facts.push(plan.reason);
    if (typeof op.progress.tag === 'string') facts.push(`tagged ${options.tagNamespace ?? ''}${op.progress.tag}`);
    if (typeof op.progress.prUrl === 'string') facts.push(`PR ${op.progress.prUrl}`);
  } else if (plan.reason) {
    facts.push(plan.reason);
  }
  blocks.push({ type: 'text', text: facts.join(' · ') });
  if (isGitPlan(plan) && plan.commits.length) {
    const more = plan.commitCount - plan.commits.length;
    blocks.push({
      type: 'list',
      title: `${plan.commitCount} commit(s)`,
      items: [
        ...plan.commits.map((c) => `${shortSha(c.sha)} ${truncate(c.subject, 72)} (${c.author})`),
        ...(more > 0 ? [`…and ${more} more`] : []),
      ],
    });
  }
  if (gate) {
    blocks.push({
      type: 'list',
      title: 'Approvals',
      items: gate.roles.map(
        (r) =>
          `${r.role}: ${r.approvers.length}/${r.needed}${r.approvers.length ? ` (${r.approvers.join(', ')})` : ''}`,
      ),
    });
  }
  if (op.state === 'awaiting-approval') {
    for (const w of gate?.waitingFor ?? []) {
      if (w.users.length || w.groups.length)
        blocks.push({ type: 'mentions', label: `waiting for ${w.role}`, users: w.users, groups: w.groups });
    }
  }
  if (op.error) blocks.push({ type: 'text', text: `Error: ${op.error}` });
  else if (
    typeof op.progress.lastError === 'string' &&
    !['succeeded', 'failed', 'rejected', 'expired', 'cancelled'].includes(op.state)
  ) {
    blocks.push({
      type: 'text',
      text: `Paused: ${op.progress.lastError}. Conveyor retries automatically; nothing needs doing.`,
    });
  }
  let buttons: ReplyButton[] = [];
  if (op.state === 'awaiting-approval') {
    // Environments with `confirm: true` (prod, typically) ask before a click counts.
    const what = isGitPlan(plan)
      ? `${op.app} → ${op.env} at ${plan.toTag ?? shortSha(plan.sourceSha)}`
      : `journal ${op.env} → ${plan.toVersion}`;
    const confirm = (verb: string) =>
      op.progress.confirm
        ? {
            confirm: {
              title: `${verb} ${op.kind}?`,
              text: `${verb} ${what} (${op.id}), asked by ${op.requester}?`,
              yes: verb,
              no: 'Cancel',
            },
          }
        : {};
    buttons = [
      { action: 'approve', label: 'Approve', value: op.id, style: 'primary', ...confirm('Approve') },
      { action: 'reject', label: 'Reject', value: op.id, style: 'danger', ...confirm('Reject') },
    ];
    blocks.push({ type: 'buttons', buttons });
    blocks.push({ type: 'text', text: `Or type: approve ${op.id}` });
  }
  blocks.push(...extra);
  if (['succeeded', 'failed', 'rejected', 'expired', 'cancelled'].includes(op.state)) {
    blocks.push({ type: 'mentions', label: `${STATE_WORDS[op.state]}, asked by`, users: [op.requester], groups: [] });
  }
  const failed = op.state === 'failed' || op.state === 'rejected' || op.state === 'expired' || op.state === 'cancelled';
  return {
    status: failed ? 'refused' : 'ok',
    title: operationHeadline(op),
    blocks,
    operation: { id: op.id, state: op.state, kind: op.kind, app: op.app, env: op.env },
    card: operationCard(op, gate ?? null, buttons, options.web ?? null, extra),
    progressLine: progressLine(op, gate ?? null),
  };
}

/** The operation as data for Slack's layout (src/adapters/slack-operation-blocks.ts). */
export function operationCard(
  op: Operation,
  gate: QuorumStatus | null,
  buttons: ReplyButton[],
  web: WebLinks | null,
  extra: ReplyBlock[] = [],
): OperationCard {
  const plan = op.plan;
  const git = isGitPlan(plan) ? plan : null;
  const journal = isGitPlan(plan) ? null : plan;
  const facts: string[] = [];
  if (git) {
    facts.push(git.mode === 'fast-forward' ? 'fast-forward' : 'new commit with the same tree');
    // Only a pull request that exists is named (a plain remote has none: the gate stands in).
    const pr = op.progress.prNumber;
    if (git.viaPullRequest && pr) facts.push(`via pull request #${pr}`);
    if (git.emergency) facts.push('EMERGENCY');
  }
  if (plan.reason) facts.push(plan.reason);
  const waiting = new Map((gate?.waitingFor ?? []).map((w) => [w.role, w]));
  const lastError = typeof op.progress.lastError === 'string' ? op.progress.lastError : null;
  return {
    id: op.id,
    kind: op.kind,
    app: git ? op.app : null,
    env: op.env,
    state: op.state,
    stateText: STATE_WORDS[op.state],
    headline: operationHeadline(op),
    final: FINAL.has(op.state),
    requester: op.requester,
    requestedAt: op.createdAt,
    ticket: git?.ticket ?? null,
    from: git
      ? { label: git.fromTag ?? shortSha(git.targetHead), sha: git.targetHead, env: op.env }
      : { label: journal?.fromVersion ?? '(none)', sha: null, env: op.env },
    to: git
      ? { label: git.toTag ?? shortSha(git.sourceSha), sha: git.sourceSha, env: git.sourceEnv }
      : { label: journal?.toVersion ?? '?', sha: null, env: null },
    facts,
    commits: git ? git.commits.map((c) => ({ sha: c.sha, subject: c.subject, author: c.author })) : [],
    commitCount: git?.commitCount ?? 0,
    pullRequest: typeof op.progress.prUrl === 'string' ? op.progress.prUrl : null,
    tag: typeof op.progress.tag === 'string' ? op.progress.tag : null,
    approvals: (gate?.roles ?? []).map((r) => {
      const w = op.state === 'awaiting-approval' ? waiting.get(r.role) : undefined;
      return {
        role: r.role,
        needed: r.needed,
        approvers: r.approvers,
        waiting: w ? { users: w.users, groups: w.groups } : null,
      };
    }),
    problem:
      op.error ?? (lastError && !FINAL.has(op.state) ? `paused: ${lastError}; Conveyor retries automatically` : null),
    buttons,
    web,
    extra,
  };
}

/** One line per state, for the thread under the operation's message (no mentions: nobody is pinged by progress). */
export function progressLine(op: Operation, gate: QuorumStatus | null): string {
  const words = STATE_WORDS[op.state];
  switch (op.state) {
    case 'awaiting-approval': {
      const roles = (gate?.roles ?? []).map((r) => `${r.role} ${r.approvers.length}/${r.needed}`);
      return roles.length ? `${words}: ${roles.join(', ')}` : words;
    }
    case 'applying':
      return typeof op.progress.lastStep === 'string' ? `${words} (done: ${op.progress.lastStep})` : words;
    case 'applied':
    case 'succeeded':
      return typeof op.progress.tag === 'string' ? `${words}: ${op.progress.tag}` : words;
    default:
      return op.error ? `${words}: ${op.error}` : words;
  }
}
