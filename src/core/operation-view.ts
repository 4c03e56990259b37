/** How an operation looks in a reply and in its living Slack message. */
import type { QuorumStatus } from './approval-gate.js';
import { shortSha, truncate } from './format.js';
import { isGitPlan, type Operation } from './operation.js';
import type { Reply, ReplyBlock } from './reply.js';

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

export function renderOperation(op: Operation, gate?: QuorumStatus | null, extra: ReplyBlock[] = []): Reply {
  const blocks: ReplyBlock[] = [];
  const plan = op.plan;
  const facts: string[] = [`asked by ${op.requester}`];
  if (isGitPlan(plan)) {
    facts.push(`ships ${shortSha(plan.sourceSha)} (${plan.mode === 'fast-forward' ? 'fast-forward' : 'new commit with the same tree'})`);
    if (plan.toTag) facts.push(`to ${plan.toTag}`);
    if (plan.ticket) facts.push(`ticket ${plan.ticket}`);
    if (plan.emergency) facts.push('EMERGENCY');
    if (plan.reason) facts.push(plan.reason);
    if (typeof op.progress.tag === 'string') facts.push(`tagged ${op.progress.tag}`);
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
      items: [...plan.commits.map((c) => `${shortSha(c.sha)} ${truncate(c.subject, 72)} (${c.author})`), ...(more > 0 ? [`…and ${more} more`] : [])],
    });
  }
  if (gate) {
    blocks.push({
      type: 'list',
      title: 'Approvals',
      items: gate.roles.map((r) => `${r.role}: ${r.approvers.length}/${r.needed}${r.approvers.length ? ` (${r.approvers.join(', ')})` : ''}`),
    });
  }
  if (op.state === 'awaiting-approval') {
    for (const w of gate?.waitingFor ?? []) {
      if (w.users.length || w.groups.length) blocks.push({ type: 'mentions', label: `waiting for ${w.role}`, users: w.users, groups: w.groups });
    }
  }
  if (op.error) blocks.push({ type: 'text', text: `Error: ${op.error}` });
  else if (typeof op.progress.lastError === 'string' && !['succeeded', 'failed', 'rejected', 'expired', 'cancelled'].includes(op.state)) {
    blocks.push({ type: 'text', text: `Paused: ${op.progress.lastError}. Conveyor retries automatically; nothing needs doing.` });
  }
  if (op.state === 'awaiting-approval') {
    // Environments with `confirm: true` (prod, typically) ask before a click counts.
    const what = isGitPlan(plan) ? `${op.app} → ${op.env} at ${plan.toTag ?? shortSha(plan.sourceSha)}` : `journal ${op.env} → ${plan.toVersion}`;
    const confirm = (verb: string) =>
      op.progress.confirm ? { confirm: { title: `${verb} ${op.kind}?`, text: `${verb} ${what} (${op.id}), asked by ${op.requester}?`, yes: verb, no: 'Cancel' } } : {};
    blocks.push({
      type: 'buttons',
      buttons: [
        { action: 'approve', label: 'Approve', value: op.id, style: 'primary', ...confirm('Approve') },
        { action: 'reject', label: 'Reject', value: op.id, style: 'danger', ...confirm('Reject') },
      ],
    });
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
    operation: { id: op.id, state: op.state },
  };
}
