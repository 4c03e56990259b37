/**
 * The structured reply every command returns. Rendered to plain text (CLI, HTTP) by
 * render-text.ts and to Block Kit (Slack) by the Slack adapter.
 */
export type ReplyStatus = 'ok' | 'usage' | 'refused' | 'error';

export type ReplyBlock =
  | { type: 'text'; text: string }
  | { type: 'table'; header: string[]; rows: string[][] }
  | { type: 'list'; title?: string; items: string[] }
  | { type: 'code'; text: string }
  | { type: 'buttons'; buttons: ReplyButton[] }
  /** People to notify: Slack renders mentions (<@U…>, <!subteam^S…>), plain text shows the ids. */
  | { type: 'mentions'; label: string; users: string[]; groups: string[] };

export interface ReplyButton {
  /** Stable action id, e.g. "approve" or "reject". */
  action: string;
  label: string;
  /** Opaque value sent back on click (an operation id and role). */
  value: string;
  style?: 'primary' | 'danger';
  /** Ask "are you sure?" before the click counts (Slack: a confirm dialog). */
  confirm?: { title: string; text: string; yes: string; no: string };
}

export interface Reply {
  status: ReplyStatus;
  /** One line saying what happened. */
  title: string;
  blocks: ReplyBlock[];
  /** Visible only to the asker (Slack ephemeral). */
  ephemeral?: boolean;
  operation?: { id: string; state: string };
  /** The stored answer of an earlier delivery with the same idempotency key (post nothing again). */
  replayed?: boolean;
  /** Extra machine-readable data for --json and the HTTP API. */
  data?: unknown;
  /**
   * What the store keeps for a replay of this request instead of the reply itself, when the
   * reply shows a secret once (a new API token): never written anywhere, never shown twice.
   */
  storedAs?: Reply;
}

export function okReply(title: string, blocks: ReplyBlock[] = [], extra: Partial<Reply> = {}): Reply {
  return { status: 'ok', title, blocks, ...extra };
}

export function refusedReply(title: string, blocks: ReplyBlock[] = []): Reply {
  return { status: 'refused', title, blocks, ephemeral: true };
}

export function exitCodeOf(reply: Reply): 0 | 1 | 2 {
  if (reply.status === 'ok') return 0;
  return reply.status === 'usage' ? 2 : 1;
}
