/**
 * What the sinks beyond Slack (email, Teams, GitHub deployments) read from a Notice: the
 * operation it shows (id, app, environment, state), the card's facts and the links a person
 * follows. A notice without an operation (a DM, a journal line) is not for them.
 */
import { boardPageTemplate } from '../core/commit-links.js';
import type { MessageRef, Notice, Notifier } from '../core/ports.js';
import type { OperationCard, Reply, WebLinks } from '../core/reply.js';

export interface NoticeLink {
  label: string;
  url: string;
}

export interface OperationEvent {
  id: string;
  kind: string;
  app: string | null;
  env: string;
  state: string;
  /** "waiting for approval", "succeeded", … */
  stateText: string;
  headline: string;
  card: OperationCard | null;
  reply: Reply;
  links: NoticeLink[];
}

const HTTP_URL = /^https?:\/\/[^\s<>"|]+$/;

function fill(template: string | undefined, values: Record<string, string>): string | null {
  if (!template) return null;
  let url = template;
  for (const [k, v] of Object.entries(values))
    url = url.replaceAll(`{${k}}`, encodeURIComponent(v).replace(/%2F/g, '/'));
  return HTTP_URL.test(url) ? url : null;
}

/** The operation's page on the board, when `board.url` is configured. */
export function operationPageUrl(boardUrl: string | undefined, id: string): string | null {
  if (!boardUrl || !HTTP_URL.test(boardUrl)) return null;
  return boardPageTemplate(boardUrl).replace('{id}', encodeURIComponent(id));
}

/** The links a person may follow: the operation's page, the pull request, the commit, the change, the tag. */
export function operationLinks(card: OperationCard | null, boardUrl: string | undefined, id: string): NoticeLink[] {
  const links: NoticeLink[] = [];
  const page = operationPageUrl(boardUrl, id);
  if (page) links.push({ label: 'Operation', url: page });
  if (!card) return links;
  if (card.pullRequest && HTTP_URL.test(card.pullRequest))
    links.push({
      label: `Pull request #${/\/(\d+)$/.exec(card.pullRequest)?.[1] ?? ''}`.trim(),
      url: card.pullRequest,
    });
  const web: WebLinks | null = card.web;
  const to = card.to.sha ? fill(web?.commit, { sha: card.to.sha }) : null;
  if (to) links.push({ label: `Commit ${card.to.sha!.slice(0, 8)}`, url: to });
  const compare =
    card.from?.sha && card.to.sha && card.from.sha !== card.to.sha
      ? fill(web?.compare, { from: card.from.sha, to: card.to.sha })
      : null;
  if (compare) links.push({ label: 'Changes', url: compare });
  const tag = card.tag ? fill(web?.tag, { tag: card.tag }) : null;
  if (tag) links.push({ label: `Tag ${card.tag}`, url: tag });
  return links;
}

export function operationEventOf(notice: Notice, boardUrl?: string): OperationEvent | null {
  const reply = notice.reply;
  const op = reply?.operation;
  if (!reply || !op?.env || !op.id) return null;
  const card = reply.card ?? null;
  return {
    id: op.id,
    kind: op.kind ?? card?.kind ?? 'operation',
    app: op.app ?? card?.app ?? null,
    env: op.env,
    state: op.state,
    stateText: card?.stateText ?? op.state,
    headline: card?.headline ?? reply.title,
    card,
    reply,
    links: operationLinks(card, boardUrl, op.id),
  };
}

/**
 * Each (operation, state) once: the engine publishes a state once, but the same state can reach
 * a sink again (an edit of the living message, a copy sent to an approver). Bounded.
 */
export class OncePerState {
  private readonly seen = new Set<string>();
  constructor(private readonly max = 10_000) {}

  /** True the first time; false after. */
  first(event: Pick<OperationEvent, 'id' | 'state'>): boolean {
    const key = `${event.id}\u0000${event.state}`;
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(key);
    return true;
  }

  forget(event: Pick<OperationEvent, 'id' | 'state'>): void {
    this.seen.delete(`${event.id}\u0000${event.state}`);
  }
}

/**
 * Deliveries in the background, one after another (so an operation's states arrive in order):
 * a slow or unreachable sink never holds up the operation that announces a state. `flush()`
 * waits for what is queued (before the process stops; tests before they look).
 */
export class Deliveries {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  queue(task: () => Promise<void>): void {
    this.tail = this.tail.then(task).catch((err: unknown) => this.onError(err));
  }

  flush(): Promise<void> {
    return this.tail;
  }
}

/**
 * A sink that delivers in the background (email, Teams, GitHub deployments, PR comments): every
 * post or edit of an operation's message is one delivery queued in order; `deliver` decides what,
 * if anything, the sink sends for it.
 */
export abstract class BackgroundSink implements Notifier {
  private readonly deliveries: Deliveries;

  constructor(onError?: (err: unknown) => void) {
    this.deliveries = new Deliveries(onError);
  }

  async post(notice: Notice): Promise<MessageRef | null> {
    this.deliveries.queue(() => this.deliver(notice));
    return null;
  }

  async update(_ref: MessageRef, notice: Notice): Promise<void> {
    this.deliveries.queue(() => this.deliver(notice));
  }

  /** Wait for what is still being delivered. */
  flush(): Promise<void> {
    return this.deliveries.flush();
  }

  protected abstract deliver(notice: Notice): Promise<void>;
}
