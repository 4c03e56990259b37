/** Notifications (Slack, webhooks). */
import type { Reply } from '../reply.js';

export interface MessageRef {
  channel: string;
  ts: string;
}

export interface Notice {
  /** Channel id or name (Slack) or a route name for generic webhooks. */
  channel: string;
  /** Plain-text fallback; always present. */
  text: string;
  /** Structured reply to render (Block Kit on Slack). */
  reply?: Reply;
  /** Post in the thread of this message. */
  thread?: MessageRef;
}

export interface Notifier {
  post(notice: Notice): Promise<MessageRef | null>;
  update(ref: MessageRef, notice: Notice): Promise<void>;
  /** Send what is still held back (paced edits) before the process stops. */
  flush?(): Promise<void>;
  /**
   * Another path already showed this notice (a Slack command's own reply becomes the message):
   * the sinks beside the primary (email, Teams, GitHub deployments) hear of it; the primary does not.
   */
  observe?(notice: Notice): Promise<void>;
}
