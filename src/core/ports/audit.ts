/** The append-only audit log, and the command log (one line per command or request). */
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  operationId: string | null;
  detail: Record<string, unknown>;
}

export interface CommandLogEntry {
  actor: string;
  source: string;
  text: string;
  outcome: string;
  detail?: string;
  /** The request this line records (idempotency key or inbox id): logged once per request. */
  requestKey?: string;
}

export interface CommandLogLine {
  actor: string;
  text: string;
  outcome: string;
  at: string;
}

export interface AuditLog {
  audit(actor: string, action: string, operationId: string | null, detail?: Record<string, unknown>): Promise<void>;
  /** Newest first. */
  auditLog(filter?: { operationId?: string; action?: string; limit?: number }): Promise<AuditEntry[]>;
  /** One line per command; with a request key, one line per request however often it runs. */
  logCommand(entry: CommandLogEntry): Promise<void>;
  /** Newest first. */
  commandLog(limit?: number): Promise<CommandLogLine[]>;
  commandLogFor(requestKey: string): Promise<CommandLogLine[]>;
}
