/**
 * The `list` matrix for a phone: one section per app, one field per environment (state emoji,
 * environment, version, age, what waits), no line of text wider than about 60 characters.
 * Past the block budget it ends with "…and N more apps: `list <app>`" rather than exceed it.
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
  const age = c.age ? ` · ${escapeMrkdwn(c.age.replace(/ ago$/, ''))}` : '';
  const lines = [head, `${version}${age}`];
  const [first, ...others] = c.pending;
  if (first)
    lines.push(
      `:hourglass_flowing_sand: ${escapeMrkdwn(cutText(first, 30))}${others.length ? ` +${others.length}` : ''}`,
    );
  return lines.map((l) => cutText(l, PHONE_LINE)).join('\n');
}

export function renderMatrix(title: string, view: MatrixView, maxBlocks: number): SlackBlock[] {
  const blocks: SlackBlock[] = [section(`*${escapeMrkdwn(cutText(title, PHONE_LINE - 4))}*`)];
  const room = maxBlocks - 2; // the title and the "more" line
  const shown = view.apps.length <= maxBlocks - 1 ? view.apps : view.apps.slice(0, room);
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
  const more = view.apps.length - shown.length;
  if (more > 0) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${more} more app${more === 1 ? '' : 's'}: \`list <app>\`` }],
    });
  }
  return blocks;
}
