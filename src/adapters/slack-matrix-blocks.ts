/**
 * The `list` matrix for a phone: one section per app, one field per environment (state emoji,
 * environment, version, age, what waits), no line of text wider than about 60 characters.
 * Past the block budget it shows one page and ends with a "Show N more" button (it re-runs the
 * view's command and replaces the message with the next page), never exceeding the budget.
 */
import type { MatrixCell, MatrixView } from '../core/reply.js';
import { cutText, escapeMrkdwn, type SlackBlock, section } from './slack-block-parts.js';

/** The widest line of text this layout writes (emoji shortcodes counted as typed). */
export const PHONE_LINE = 60;
const MAX_FIELDS = 10;

const LIVE_EMOJI: Record<string, string> = {
  healthy: ':large_green_circle:',
  progressing: ':hourglass:',
  failed: ':red_circle:',
  drifted: ':warning:',
  unknown: ':white_circle:',
};

function cellText(c: MatrixCell): string {
  const emoji = LIVE_EMOJI[c.live] ?? LIVE_EMOJI.unknown;
  const head = `${emoji} *${escapeMrkdwn(cutText(c.env, 24))}*`;
  const version = c.version ? `\`${escapeMrkdwn(cutText(c.version, 30))}\`` : '_no branch_';
  // "deployed 2h" since the deploy tag; "commit 3d" when the head is untagged (the commit's age).
  const since = c.age?.replace(/ ago$/, '');
  const age = since ? ` · ${escapeMrkdwn(since.startsWith('commit ') ? since : `deployed ${since}`)}` : '';
  const lines = [head, `${version}${age}`];
  if (c.watchUntil)
    lines.push(
      `:eyes: watched until <!date^${Math.floor(Date.parse(c.watchUntil) / 1000)}^{time}|${c.watchUntil.slice(11, 16)} UTC>`,
    );
  if (c.lock)
    lines.push(
      `:lock: ${c.lock.allApps ? 'every app ' : ''}locked by ${escapeMrkdwn(cutText(c.lock.by, 20))}: ${escapeMrkdwn(cutText(c.lock.reason, 24))}`,
    );
  const [first, ...others] = c.pending;
  if (first)
    lines.push(
      `:hourglass_flowing_sand: ${escapeMrkdwn(cutText(first, 30))}${others.length ? ` +${others.length}` : ''}`,
    );
  return lines.map((l) => cutText(l, PHONE_LINE)).join('\n');
}

/** The "more" button: its value is the page's first app and the command that made the view. */
export const LIST_MORE_ACTION = 'conveyor_list_more';
const MORE_VALUE = /^(\d{1,6}) (list(?: [A-Za-z0-9][A-Za-z0-9._-]{0,62}){0,2})$/;

export function moreButtonValue(from: number, command: string): string {
  return `${from} ${command}`;
}

/** The page start and the command of a "more" button's value; null when it is not one of ours. */
export function parseMoreButton(value: string): { from: number; command: string } | null {
  const m = MORE_VALUE.exec(value);
  return m ? { from: Number(m[1]), command: m[2]! } : null;
}

export function renderMatrix(title: string, view: MatrixView, maxBlocks: number, from = 0): SlackBlock[] {
  const start = Math.min(Math.max(0, from), view.apps.length);
  const rest = view.apps.slice(start);
  const page = start > 0 ? ` (apps ${start + 1}–${view.apps.length})` : '';
  const blocks: SlackBlock[] = [section(`*${escapeMrkdwn(cutText(title + page, PHONE_LINE - 4))}*`)];
  const room = maxBlocks - 3; // the title, the "more" line and its button
  const shown = rest.length <= maxBlocks - 1 ? rest : rest.slice(0, room);
  for (const app of shown) {
    const fields = app.cells.map(cellText);
    const name = `*${escapeMrkdwn(cutText(app.name, PHONE_LINE - 2))}*`;
    if (fields.length === 0) blocks.push(section(`${name}\n_no environment_`));
    else if (fields.length <= MAX_FIELDS)
      blocks.push({
        type: 'section',
        text: { type: 'mrkdwn', text: name },
        fields: fields.map((text) => ({ type: 'mrkdwn' as const, text })),
      });
    else blocks.push(section(cutText([name, ...fields].join('\n'), 2900)));
  }
  const more = rest.length - shown.length;
  if (more > 0) {
    const next = start + shown.length;
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${more} more app${more === 1 ? '' : 's'} (or \`list <app>\`)` }],
    });
    const value = view.command ? moreButtonValue(next, view.command) : null;
    if (value && MORE_VALUE.test(value))
      blocks.push({
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: LIST_MORE_ACTION,
            text: { type: 'plain_text', text: `Show ${Math.min(more, room)} more` },
            value,
          },
        ],
      });
  }
  return blocks;
}
