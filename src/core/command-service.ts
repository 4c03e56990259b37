/**
 * What every transport (Slack, CLI, HTTP) calls. Transports parse their own envelope,
 * then hand the command text and the caller to this service; business rules live behind it.
 */
import type { MessageRef } from './ports.js';
import type { Reply } from './reply.js';

export interface CommandInvocation {
  /** The command text, e.g. "promote api prod --ticket CHG0001". */
  text: string;
  /** Who asks: a Slack user id (or the --as value of the CLI). */
  user: string;
  source: 'slack' | 'cli' | 'http' | 'github';
  /** Where the command was typed (Slack channel id), when known. */
  channel?: string;
  /** Same key, same answer: never a second operation (Slack trigger id, CLI --idempotency-key). */
  idempotencyKey?: string;
}

export interface CommandService {
  execute(invocation: CommandInvocation): Promise<Reply>;
  /**
   * Remember the message that shows an operation, so later transitions edit it in place. `shown`
   * is the state that message shows: when the operation moved on meanwhile, it is edited now.
   */
  attachMessage(operationId: string, ref: MessageRef, shown?: string): Promise<void>;
  /** The apps × environments matrix (App Home). */
  matrix(viewer: string): Promise<Reply>;
  /** Operations waiting for this user's approval (App Home). */
  pendingFor(viewer: string): Promise<Reply>;
}
