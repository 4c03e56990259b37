/**
 * Render a structured Reply to Slack Block Kit, always within Slack's limits: long text,
 * tables and lists are split over several sections and cut with "…and N more"; the block
 * count never exceeds the budget (approval buttons are always kept). An operation is laid out
 * as a card (./slack-operation-blocks.ts), the `list` matrix one section per app so that it
 * reads on a phone (./slack-matrix-blocks.ts); the App Home keeps the wide table.
 */
import type { types } from '@slack/bolt';
import type { Reply } from '../core/reply.js';
import {
  cutText,
  escapeMrkdwn,
  renderPart,
  SLACK_LIMITS,
  type SlackBlock,
  STATE_EMOJI,
  STATUS_EMOJI,
  section,
} from './slack-block-parts.js';
import { renderMatrix } from './slack-matrix-blocks.js';
import { operationFallback, renderOperationCard } from './slack-operation-blocks.js';

export { escapeMrkdwn, SLACK_LIMITS, type SlackBlock } from './slack-block-parts.js';
export type SlackHomeView = types.HomeView;

/** The emoji shown before a reply's title: the operation state's when there is one. */
export function statusEmoji(reply: Reply): string {
  if (reply.status === 'ok' && reply.operation) return STATE_EMOJI[reply.operation.state] ?? STATUS_EMOJI.ok;
  return STATUS_EMOJI[reply.status];
}

/** Plain-text fallback (the `text` of a message: notifications, screen readers). */
export function renderReplyText(reply: Reply, max = SLACK_LIMITS.sectionText): string {
  if (reply.card) return operationFallback(reply.card, reply.title);
  if (reply.matrix && reply.status === 'ok')
    return `${statusEmoji(reply)} ${cutText(escapeMrkdwn(reply.title), max - 40)}`;
  const first = reply.blocks.find((b) => b.type === 'text');
  const raw = first && first.type === 'text' ? `${reply.title}\n${first.text}` : reply.title;
  return `${statusEmoji(reply)} ${cutText(escapeMrkdwn(raw), max - 40)}`;
}

export interface RenderOptions {
  /** Block budget (50 for messages). */
  maxBlocks?: number;
  /** The `list` matrix as the wide table (App Home) rather than one section per app. */
  wide?: boolean;
  /** The `list` matrix page: the index of its first app (a "more" button's next page). */
  matrixFrom?: number;
}

/** Render a reply as Block Kit blocks, never more than `maxBlocks`. */
export function renderReplyBlocks(reply: Reply, options: RenderOptions = {}): SlackBlock[] {
  const maxBlocks = Math.max(2, options.maxBlocks ?? SLACK_LIMITS.blocksPerMessage);
  if (reply.card) {
    // A command that says more than the operation's headline (who approved) says it first.
    const note =
      reply.title !== reply.card.headline
        ? [section(`${statusEmoji(reply)} ${cutText(escapeMrkdwn(reply.title), SLACK_LIMITS.sectionText - 60)}`)]
        : [];
    return [...note, ...renderOperationCard(reply.card, reply.card.extra, maxBlocks - note.length)];
  }
  if (reply.matrix && !options.wide && reply.status === 'ok')
    return renderMatrix(reply.title, reply.matrix, maxBlocks, options.matrixFrom);
  const title = section(`${statusEmoji(reply)} *${cutText(escapeMrkdwn(reply.title), SLACK_LIMITS.sectionText - 60)}*`);
  const parts = reply.blocks.map((block) => ({
    essential: block.type === 'buttons',
    blocks: renderPart(block),
  }));
  const essential = parts.filter((p) => p.essential).reduce((n, p) => n + p.blocks.length, 0);
  const optional = parts.filter((p) => !p.essential).reduce((n, p) => n + p.blocks.length, 0);
  let budget = maxBlocks - 1 - essential;
  if (budget < 0) return [title, ...parts.flatMap((p) => (p.essential ? p.blocks : [])).slice(0, maxBlocks - 1)];
  const cutting = optional > budget;
  if (cutting) budget -= 1;
  const out: SlackBlock[] = [title];
  let omitted = 0;
  for (const part of parts) {
    for (const block of part.blocks) {
      if (part.essential) out.push(block);
      else if (budget > 0) {
        out.push(block);
        budget -= 1;
      } else omitted += 1;
    }
  }
  if (cutting) {
    const note = `…and ${omitted} more block${omitted === 1 ? '' : 's'} not shown (use \`conveyor run … --json\` for everything)`;
    out.push({ type: 'context', elements: [{ type: 'mrkdwn', text: note }] });
  }
  return out;
}

/** The App Home view: pending approvals first, then the apps × environments matrix. */
export function renderHomeView(matrix: Reply, pending: Reply): SlackHomeView {
  const half = Math.floor((SLACK_LIMITS.blocksPerView - 3) / 2);
  return {
    type: 'home',
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'Conveyor', emoji: true } },
      ...renderReplyBlocks(pending, { maxBlocks: half }),
      { type: 'divider' },
      ...renderReplyBlocks(matrix, { maxBlocks: half, wide: true }),
    ],
  };
}
