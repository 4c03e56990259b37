/**
 * Microsoft Teams: one incoming webhook per environment (`environments[].teams.urlEnv`), one
 * message per state in `on`, as an Adaptive Card (schema 1.4, what Teams renders): the headline,
 * a FactSet (operation, app, environment, state, versions, approvals, problem) and an
 * Action.OpenUrl per link. Server errors and 429 are retried with backoff; other 4xx are not.
 * Errors name the webhook's host only: the URL carries its signature.
 */
import pRetry, { AbortError } from 'p-retry';
import { UpstreamError } from '../core/errors.js';
import type { Notice } from '../core/ports.js';
import { BackgroundSink, OncePerState, type OperationEvent, operationEventOf } from './operation-notice.js';

export interface TeamsRoute {
  url: string;
  on: readonly string[];
}

export interface TeamsNotifierOptions {
  /** Environment name → webhook. */
  routes: Record<string, TeamsRoute>;
  fetch?: typeof fetch;
  retries?: number;
  minTimeoutMs?: number;
  boardUrl?: string;
  onFailure?: (env: string) => void;
  onError?: (err: unknown) => void;
}

const COLOR: Record<string, string> = {
  succeeded: 'Good',
  failed: 'Attention',
  rejected: 'Attention',
  expired: 'Warning',
  cancelled: 'Warning',
  'awaiting-approval': 'Accent',
};

/** The Adaptive Card for one state of an operation. */
export function adaptiveCard(event: OperationEvent): Record<string, unknown> {
  const card = event.card;
  const facts: { title: string; value: string }[] = [
    { title: 'Operation', value: `${event.kind} ${event.id}` },
    ...(event.app ? [{ title: 'App', value: event.app }] : []),
    { title: 'Environment', value: event.env },
    { title: 'State', value: event.stateText },
  ];
  if (card) {
    facts.push({ title: 'Requested by', value: card.requester });
    facts.push({ title: 'Version', value: card.from ? `${card.from.label} → ${card.to.label}` : card.to.label });
    for (const a of card.approvals) {
      const waiting = a.waiting ? [...a.waiting.users, ...a.waiting.groups] : [];
      facts.push({
        title: `Approval (${a.role})`,
        value: `${a.approvers.length}/${a.needed}${a.approvers.length ? ` by ${a.approvers.join(', ')}` : ''}${
          waiting.length ? `; waiting for ${waiting.join(', ')}` : ''
        }`,
      });
    }
    if (card.ticket) facts.push({ title: 'Change ticket', value: card.ticket });
  }
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      text: event.headline,
      weight: 'Bolder',
      size: 'Medium',
      wrap: true,
      color: COLOR[event.state] ?? 'Default',
    },
    { type: 'FactSet', facts },
  ];
  if (card?.problem) body.push({ type: 'TextBlock', text: card.problem, wrap: true, color: 'Attention' });
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    fallbackText: event.headline,
    body,
    ...(event.links.length
      ? { actions: event.links.slice(0, 5).map((l) => ({ type: 'Action.OpenUrl', title: l.label, url: l.url })) }
      : {}),
  };
}

/** The message an incoming webhook takes: one attachment holding the card. */
export function teamsMessage(event: OperationEvent): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: adaptiveCard(event) },
    ],
  };
}

export class TeamsNotifier extends BackgroundSink {
  private readonly once = new OncePerState();
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: TeamsNotifierOptions) {
    super(options.onError);
    this.fetchFn = options.fetch ?? fetch;
  }

  protected async deliver(notice: Notice): Promise<void> {
    const event = operationEventOf(notice, this.options.boardUrl);
    if (!event) return;
    const route = this.options.routes[event.env];
    if (!route?.on.includes(event.state) || !this.once.first(event)) return;
    const body = JSON.stringify(teamsMessage(event));
    let host = 'webhook';
    try {
      host = new URL(route.url).host;
    } catch {}
    try {
      await pRetry(
        async () => {
          let res: Response;
          try {
            res = await this.fetchFn(route.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
              signal: AbortSignal.timeout(10_000),
            });
          } catch (err) {
            throw new UpstreamError('teams', `Teams webhook ${host} is unreachable`, { cause: err });
          }
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return;
          const error = new UpstreamError('teams', `Teams webhook ${host} answered ${res.status}`);
          if (res.status < 500 && res.status !== 429) throw new AbortError(error);
          throw error;
        },
        { retries: this.options.retries ?? 3, minTimeout: this.options.minTimeoutMs ?? 1000 },
      );
    } catch (err) {
      this.once.forget(event);
      this.options.onFailure?.(event.env);
      throw err;
    }
  }
}
