/** Approvals of operations: one row per approver, bound to the sha they approved. */
export interface ApprovalRow {
  userId: string;
  role: string;
  sha: string;
  at: string;
}

export interface ApprovalStore {
  /** false when this user had approved already. */
  addApproval(operationId: string, userId: string, role: string, sha: string): Promise<boolean>;
  /** Oldest first. */
  approvals(operationId: string): Promise<ApprovalRow[]>;
  /** The approvals of several operations in one read (oldest first each; none: no entry). */
  approvalsOf(operationIds: string[]): Promise<Map<string, ApprovalRow[]>>;
}
