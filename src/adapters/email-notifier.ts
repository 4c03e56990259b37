/**
 * Email about operations, over SMTP (nodemailer), per environment: `environments[].email.to`
 * gets a message when one of its operations reaches a state in `on` (by default: waiting for
 * approval and every final state). The subject names app, environment and state; the body the
 * operation, its versions, approvals, problem and links. Temporary SMTP failures (4xx, no
 * connection) are retried with backoff; a permanent refusal (5xx, bad credentials) is not.
 * A notice that goes nowhere, or a state already sent, sends nothing.
 */
import type { Transporter } from 'nodemailer';
import pRetry, { AbortError } from 'p-retry';
import { UpstreamError } from '../core/errors.js';
import type { Notice } from '../core/ports.js';
import { renderText } from '../core/render-text.js';
import { BackgroundSink, OncePerState, type OperationEvent, operationEventOf } from './operation-notice.js';

export interface EmailRoute {
  to: string[];
  cc: string[];
  on: readonly string[];
}

export interface EmailNotifierOptions {
  transport: Pick<Transporter, 'sendMail'>;
  from: string;
  /** Environment name → recipients. */
  routes: Record<string, EmailRoute>;
  retries?: number;
  minTimeoutMs?: number;
  boardUrl?: string;
  /** Called once per message that could not be sent (after the retries). */
  onFailure?: (env: string) => void;
  /** What went wrong with it (for the log). */
  onError?: (err: unknown) => void;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Header-safe: one line, no control characters. */
const oneLine = (s: string) => s.replace(/[\r\n\t\u0000-\u001f]+/g, ' ').slice(0, 200);

export function emailMessage(event: OperationEvent): EmailMessage {
  const card = event.card;
  const what = event.app ? `${event.app} in ${event.env}` : event.env;
  const subject = oneLine(`[Conveyor] ${what}: ${event.stateText} (${event.kind} ${event.id})`);
  const facts: [string, string][] = [
    ['Operation', `${event.kind} ${event.id}`],
    ...(event.app ? ([['App', event.app]] as [string, string][]) : []),
    ['Environment', event.env],
    ['State', event.stateText],
  ];
  if (card) {
    facts.push(['Requested by', card.requester]);
    facts.push(['Version', card.from ? `${card.from.label} → ${card.to.label}` : card.to.label]);
    for (const a of card.approvals) {
      const waiting = a.waiting ? [...a.waiting.users, ...a.waiting.groups] : [];
      facts.push([
        `Approval (${a.role})`,
        `${a.approvers.length}/${a.needed}${a.approvers.length ? ` by ${a.approvers.join(', ')}` : ''}${
          waiting.length ? `; waiting for ${waiting.join(', ')}` : ''
        }`,
      ]);
    }
    if (card.ticket) facts.push(['Change ticket', card.ticket]);
    if (card.problem) facts.push(['Problem', card.problem]);
  }
  const text = [
    event.headline,
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    ...(event.links.length ? ['', 'Links:', ...event.links.map((l) => `  ${l.label}: ${l.url}`)] : []),
    '',
    renderText(event.reply),
    '',
    '-- ',
    'Sent by Conveyor. Approve or reject in Slack.',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(event.headline)}</h2>`,
    '<table>',
    ...facts.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
    event.links.length
      ? `<ul>${event.links.map((l) => `<li><a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a></li>`).join('')}</ul>`
      : '',
    `<pre>${escapeHtml(renderText(event.reply))}</pre>`,
    '<p style="color:#666">Sent by Conveyor. Approve or reject in Slack.</p>',
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** SMTP's answer to a failed send: permanent (5xx, authentication) or worth another try. */
function isPermanent(err: unknown): boolean {
  const e = err as { responseCode?: number; code?: string };
  if (e.code === 'EAUTH' || e.code === 'EENVELOPE') return true;
  return typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
}

export class EmailNotifier extends BackgroundSink {
  private readonly once = new OncePerState();

  constructor(private readonly options: EmailNotifierOptions) {
    super(options.onError);
  }

  protected async deliver(notice: Notice): Promise<void> {
    const event = operationEventOf(notice, this.options.boardUrl);
    if (!event) return;
    const route = this.options.routes[event.env];
    if (!route?.on.includes(event.state) || !this.once.first(event)) return;
    const message = emailMessage(event);
    try {
      await pRetry(
        async () => {
          try {
            await this.options.transport.sendMail({
              from: this.options.from,
              to: route.to,
              ...(route.cc.length ? { cc: route.cc } : {}),
              subject: message.subject,
              text: message.text,
              html: message.html,
              headers: { 'X-Conveyor-Operation': event.id },
            });
          } catch (err) {
            const e = err as { responseCode?: number; code?: string };
            const why = e.responseCode ? `SMTP ${e.responseCode}` : (e.code ?? 'error');
            const error = new UpstreamError('email', `email about ${event.id} to ${event.env} failed (${why})`, {
              cause: err,
            });
            throw isPermanent(err) ? new AbortError(error) : error;
          }
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
