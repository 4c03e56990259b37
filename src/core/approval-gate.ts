/**
 * Approval gates: which roles must approve and who may fill them. The rules themselves (quorum,
 * freezes, tickets, …) are in ./gates/, one per file; their helpers are re-exported here for
 * the commands and views that show a gate.
 */
import type { Config } from '../config/schema.js';
import type { QuorumStatus } from './gates/quorum.js';
import { rolesOf } from './gates/roles.js';
import { okReply, type Reply } from './reply.js';
import type { Runtime } from './runtime.js';

export { type TicketPolicy, ticketPolicy } from './gates/change-ticket.js';
export { activeFreeze } from './gates/freeze.js';
export { approvalSubject, type QuorumStatus, quorum, type RoleProgress } from './gates/quorum.js';
export { requiredRoles, rolesOf } from './gates/roles.js';

/**
 * The people to mention for each role still missing: its named users who may still approve
 * (never the requester, nobody who approved already); its user groups only where it names no
 * user, so a group is not pinged when one named person can fill the role.
 */
export function withWaitingFor(status: QuorumStatus, config: Pick<Config, 'roles'>, requester: string): QuorumStatus {
  const approved = new Set(status.roles.flatMap((r) => r.approvers));
  const waitingFor = status.roles
    .filter((r) => r.approvers.length < r.needed)
    .map((r) => {
      const who = config.roles[r.role];
      const users = (who?.users ?? []).filter((u) => u !== requester && !approved.has(u));
      return { role: r.role, users, groups: users.length ? [] : (who?.groups ?? []) };
    });
  return { ...status, waitingFor };
}

/** Operations waiting for an approval this viewer could give (App Home, `list`). */
export async function pendingApprovalsFor(runtime: Runtime, viewer: string): Promise<Reply> {
  const mine = new Set(await rolesOf(runtime, viewer));
  const waiting = await runtime.store.operations({ states: ['awaiting-approval'], limit: 200 });
  const items: string[] = [];
  for (const op of waiting) {
    if (op.requester === viewer) continue;
    const missing = Object.keys(op.progress.requiredRoles ?? {}).filter((r) => mine.has(r));
    if (missing.length)
      items.push(
        `${op.id}: ${op.kind} ${op.app} → ${op.env} (asked by ${op.requester}; you can approve as ${missing.join(' or ')})`,
      );
  }
  return okReply(
    items.length ? `${items.length} operation(s) wait for you` : 'Nothing waits for your approval',
    items.length ? [{ type: 'list', items }] : [],
  );
}
