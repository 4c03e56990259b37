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
  /**
   * The operation the reply shows. `followUp`: the command acted on an operation that has its
   * own living message (approve, reject): Slack answers the person privately and edits that
   * message, rather than post a second copy of it.
   */
  operation?: { id: string; state: string; kind?: string; app?: string; env?: string; followUp?: boolean };
  /** An operation laid out for Slack (header, context, fields, commits, approvals, actions). */
  card?: OperationCard;
  /** One line saying what this state of an operation is (Slack: a line in the message's thread). */
  progressLine?: string;
  /** The apps × environments matrix as data (Slack: one section per app on a phone). */
  matrix?: MatrixView;
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

/** URL templates for a repository's web pages: `{sha}`, `{from}`, `{to}`, `{tag}` are filled in. */
export interface WebLinks {
  commit?: string;
  compare?: string;
  tag?: string;
  /** The operation's page on the web board (`board.url`): a template with {id}. */
  board?: string;
}

/** One side of a change: what an environment runs (or will run). */
export interface CardVersion {
  /** A deploy tag, a journal version, or a short sha. */
  label: string;
  sha: string | null;
  /** The environment it comes from or lives in. */
  env: string | null;
}

/** An operation as data, for surfaces that lay it out themselves (Slack's Block Kit). */
export interface OperationCard {
  id: string;
  kind: string;
  /** The app; null for journal operations. */
  app: string | null;
  env: string;
  state: string;
  /** "waiting for approval", "succeeded", … */
  stateText: string;
  /** The one-line summary (the reply's title, unless a command says more, e.g. who approved). */
  headline: string;
  final: boolean;
  requester: string;
  /** ISO time the operation was asked for. */
  requestedAt: string;
  ticket: string | null;
  from: CardVersion | null;
  to: CardVersion;
  /** Short facts (fast-forward or new commit, emergency, reason). */
  facts: string[];
  commits: { sha: string; subject: string; author: string }[];
  commitCount: number;
  pullRequest: string | null;
  /** The deploy tag made by this operation, once it exists. */
  tag: string | null;
  approvals: {
    role: string;
    needed: number;
    approvers: string[];
    waiting: { users: string[]; groups: string[] } | null;
  }[];
  /** An error (failed) or why it is paused (retrying). */
  problem: string | null;
  buttons: ReplyButton[];
  /** Where commits, compare views and tags link to; null: no links. */
  web: WebLinks | null;
  /** More to show below (e.g. the keys a journal seed moves). */
  extra: ReplyBlock[];
}

/** One cell of the matrix: what an app runs in an environment. */
export interface MatrixCell {
  env: string;
  /** Deploy tag, or the short sha when the head is untagged; null: no branch. */
  version: string | null;
  sha: string | null;
  /** How long it has run: "3d ago" since its deploy tag; "commit 3d ago" when the head is untagged. */
  age: string | null;
  /** healthy, progressing, failed, drifted, unknown */
  live: string;
  /** Operations on it that are not finished: "promote op_… awaiting-approval". */
  pending: string[];
  /** The end of the soak window it is under (ISO time), when one is open. */
  watchUntil?: string | null;
  /** What the environment's GitOps applier reports (synced revision, health), when one is configured. */
  applier?: string;
  /** A manual lock (`lock <app|*> <env>`) on it: promotions and rollbacks are refused while it stands. */
  lock?: MatrixLock | null;
}

/** Who locked an app (or every app) in an environment, why, since when and until when. */
export interface MatrixLock {
  /** Who locked it, as shown (a name when the directory knows one). */
  by: string;
  reason: string;
  /** ISO time it was locked. */
  since: string;
  /** When it ends by itself; null: until someone unlocks it (locks have no expiry). */
  until: string | null;
  /** The lock is on every app (`lock * <env>`). */
  allApps: boolean;
  /** The command that lifts it, e.g. `unlock api prod`. */
  unlock: string;
}

/** "locked by Ana: release freeze (until `unlock api prod`)" */
export function lockText(lock: MatrixLock): string {
  return `locked${lock.allApps ? ' (every app)' : ''} by ${lock.by}: ${lock.reason} (until ${
    lock.until ? lock.until : `\`${lock.unlock}\``
  })`;
}

export interface MatrixView {
  envs: string[];
  apps: { name: string; cells: MatrixCell[] }[];
  /** The command that shows this view again (`list`, `list qa`): a "more" button re-runs it. */
  command?: string;
}
