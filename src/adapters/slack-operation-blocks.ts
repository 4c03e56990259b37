/**
 * An operation's living message in Block Kit: a header (app → env, version), a context line
 * (the requester as a mention, the time each reader sees in their own zone, the ticket), fields
 * for the version the environment runs and the one it will run, the commits with links, the
 * approvals ("role: ✓ @person" / "waiting: @group"), and the actions. Within Block Kit's limits.
 */
import type { OperationCard, ReplyBlock, WebLinks } from '../core/reply.js';
import {
  cutText,
  escapeMrkdwn,
  groupMention,
  renderButtons,
  renderPart,
  SLACK_LIMITS,
  type SlackBlock,
  stateEmoji,
  userMention,
} from './slack-block-parts.js';

const MAX_COMMITS = 10;
const SUBJECT = 72;

/** `<!date^…>`: Slack shows the time in each reader's zone; the fallback is UTC. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(iso);
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

function fill(template: string | undefined, values: Record<string, string>): string | null {
  if (!template) return null;
  let url = template;
  for (const [k, v] of Object.entries(values))
    url = url.replaceAll(`{${k}}`, encodeURIComponent(v).replace(/%2F/g, '/'));
  return /^https?:\/\/[^\s<>|]+$/.test(url) ? url : null;
}

/** `<url|label>` when there is a URL, else the label as code. */
function link(url: string | null, label: string): string {
  const shown = escapeMrkdwn(label).replace(/\|/g, '¦');
  return url ? `<${url}|${shown}>` : `\`${shown}\``;
}

const commitUrl = (web: WebLinks | null, sha: string) => fill(web?.commit, { sha });

/** The operation's page on the web board, when `board.url` is set. */
function boardLink(card: OperationCard): string {
  const url = fill(card.web?.board, { id: card.id });
  return url ? `<${url}|open on the board>` : '';
}

function versionField(title: string, v: OperationCard['from'], web: WebLinks | null): string {
  if (!v) return `*${escapeMrkdwn(title)}*\n(none)`;
  const tagUrl = v.sha && v.label !== v.sha.slice(0, 8) ? fill(web?.tag, { tag: v.label }) : null;
  const main = link(tagUrl ?? (v.sha ? commitUrl(web, v.sha) : null), v.label);
  const sha =
    v.sha && !v.label.startsWith(v.sha.slice(0, 8)) ? ` · ${link(commitUrl(web, v.sha), v.sha.slice(0, 8))}` : '';
  return cutText(`*${escapeMrkdwn(title)}*\n${main}${sha}`, 1900);
}

export function approvalLines(card: OperationCard): string[] {
  return card.approvals.map((a) => {
    const count = a.needed > 1 ? ` (${a.approvers.length}/${a.needed})` : '';
    const given = a.approvers.length ? `✓ ${a.approvers.map(userMention).join(', ')}` : '';
    const people = a.waiting ? [...a.waiting.users.map(userMention), ...a.waiting.groups.map(groupMention)] : [];
    const missing = a.approvers.length < a.needed;
    const waiting = missing
      ? people.length
        ? `waiting: ${people.join(' ')}`
        : `${a.approvers.length}/${a.needed}`
      : '';
    return `*${escapeMrkdwn(a.role)}*${count}: ${[given, waiting].filter(Boolean).join(' · ')}`;
  });
}

/** The operation's message: never more than `maxBlocks` blocks, the actions always kept. */
export function renderOperationCard(
  card: OperationCard,
  extra: ReplyBlock[] = [],
  maxBlocks: number = SLACK_LIMITS.blocksPerMessage,
): SlackBlock[] {
  const web = card.web;
  const what = card.app ? `${card.kind} ${card.app} → ${card.env}` : `${card.kind} ${card.env}`;
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: cutText(`${what} · ${card.to.label}`, SLACK_LIMITS.headerText), emoji: true },
    },
    section(
      `${stateEmoji(card.state)} *${escapeMrkdwn(card.stateText)}* · \`${escapeMrkdwn(card.id)}\`${card.facts.length ? ` · ${escapeMrkdwn(card.facts.join(' · '))}` : ''}`,
    ),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: cutText(
            [
              `asked by ${userMention(card.requester)}`,
              slackDate(card.requestedAt),
              card.ticket ? `ticket ${escapeMrkdwn(card.ticket)}` : '',
              boardLink(card),
            ]
              .filter(Boolean)
              .join(' · '),
            SLACK_LIMITS.sectionText,
          ),
        },
      ],
    },
  ];
  const fields = [
    versionField(
      card.state === 'succeeded' ? `${card.env} ran` : card.app ? `${card.env} runs` : `${card.env} follows`,
      card.from,
      web,
    ),
    versionField(
      `${card.state === 'succeeded' ? 'shipped' : 'ships'}${card.to.env ? ` (from ${card.to.env})` : ''}`,
      card.to,
      web,
    ),
  ];
  if (card.tag) fields.push(`*deploy tag*\n${link(fill(web?.tag, { tag: card.tag }), card.tag)}`);
  if (card.pullRequest && /^https?:\/\/[^\s<>|]+$/.test(card.pullRequest)) {
    fields.push(`*pull request*\n<${card.pullRequest}|#${/\/(\d+)$/.exec(card.pullRequest)?.[1] ?? 'PR'}>`);
  }
  blocks.push({ type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn' as const, text })) });
  if (card.problem) blocks.push(section(`:warning: ${escapeMrkdwn(cutText(card.problem, 2800))}`));
  if (card.commits.length) {
    const compare = card.from?.sha && card.to.sha ? fill(web?.compare, { from: card.from.sha, to: card.to.sha }) : null;
    const head = `*${card.commitCount} commit${card.commitCount === 1 ? '' : 's'}*${compare ? ` · <${compare}|compare>` : ''}`;
    const lines = card.commits
      .slice(0, MAX_COMMITS)
      .map(
        (c) =>
          `• ${link(commitUrl(web, c.sha), c.sha.slice(0, 8))} ${escapeMrkdwn(cutText(c.subject, SUBJECT))} — ${escapeMrkdwn(cutText(c.author, 40))}`,
      );
    const more = card.commitCount - Math.min(card.commits.length, MAX_COMMITS);
    if (more > 0) lines.push(`_…and ${more} more_`);
    blocks.push(section(cutText([head, ...lines].join('\n'), SLACK_LIMITS.sectionText)));
  }
  if (card.approvals.length)
    blocks.push(section(cutText(['*approvals*', ...approvalLines(card)].join('\n'), SLACK_LIMITS.sectionText)));
  const actions = card.buttons.length ? renderButtons(card.buttons) : [];
  const room = maxBlocks - blocks.length - actions.length;
  const rest = extra.flatMap(renderPart);
  blocks.push(...rest.slice(0, Math.max(0, room)));
  if (card.state === 'awaiting-approval' && actions.length) {
    blocks.push(...actions);
    if (blocks.length < maxBlocks)
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `or type \`approve ${escapeMrkdwn(card.id)}\`` }],
      });
  }
  return blocks.slice(0, maxBlocks);
}

/** The plain-text fallback of an operation's message (notifications, screen readers). */
export function operationFallback(card: OperationCard, title: string): string {
  const waiting = card.approvals.filter((a) => a.approvers.length < a.needed).map((a) => a.role);
  const tail =
    card.state === 'awaiting-approval' && waiting.length
      ? `, needs ${waiting.join(', ')}`
      : card.problem
        ? `: ${card.problem}`
        : '';
  return `${stateEmoji(card.state)} ${escapeMrkdwn(cutText(`${title}${tail}`, 2900))}`;
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: text.length ? text : ' ' } };
}
