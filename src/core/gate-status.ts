/** The approvals so far of an operation that has a gate (shown with the operation). */
import { approvalSubject, quorum, withWaitingFor } from './approval-gate.js';
import type { Operation } from './operation.js';
import type { Runtime } from './runtime.js';

export async function gateStatus(runtime: Pick<Runtime, 'store' | 'config'>, op: Operation) {
  const required = op.progress.requiredRoles ?? {};
  if (!Object.keys(required).length) return null;
  return withWaitingFor(
    quorum(required, await runtime.store.approvals(op.id), approvalSubject(op), op.requester),
    runtime.config,
    op.requester,
  );
}
