/**
 * The pieces every Conveyor Block Kit message is made of, within Slack's limits: escaped mrkdwn,
 * sections packed from lines (cut with "…and N more"), tables, buttons (with confirm dialogs),
 * mentions. Every piece of text is escaped, so `<!channel>` typed by a user is shown, never triggered.
 */
import type { types } from '@slack/bolt';
import type { ReplyBlock, ReplyButton, ReplyStatus } from '../core/reply.js';
export type SlackBlock = types.KnownBlock;
export type SlackHomeView = types.HomeView;

export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  blocksPerView: 100,
  sectionText: 3000,
  headerText: 150,
  buttonText: 75,
  /** Confirmation dialog: title, text, and its two buttons (Block Kit composition object limits). */
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  actionValue: 2000,
  actionsElements: 25,
} as const;

/** Sections one table, list or code block may use before it is cut with "…and N more". */
const MAX_SECTIONS_PER_PART = 4;
const MAX_CELL = 80;

export const STATUS_EMOJI: Record<ReplyStatus, string> = {
  ok: ':white_check_mark:',
  usage: ':grey_question:',
  refused: ':no_entry:',
  error: ':x:',
};

export const STATE_EMOJI: Record<string, string> = {
  requested: ':inbox_tray:',
  'awaiting-approval': ':hourglass_flowing_sand:',
  approved: ':thumbsup:',
  applying: ':arrows_counterclockwise:',
  applied: ':package:',
  verifying: ':mag:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  rejected: ':no_entry_sign:',
  expired: ':alarm_clock:',
  cancelled: ':heavy_multiplication_x:',
};

/** Escape the three characters mrkdwn gives meaning to (`<!channel>`, `<@U…>`, links). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The emoji of an operation state. */
export function stateEmoji(state: string): string {
  return STATE_EMOJI[state] ?? ':grey_question:';
}

/** A user id as a mention (`<@U…>`); anything that is not a well-formed id stays inert text. */
export function userMention(user: string): string {
  return /^[UW][A-Z0-9_]{2,20}$/.test(user) ? `<@${user}>` : escapeMrkdwn(user);
}

/** A user-group id as a mention (`<!subteam^S…>`); anything else stays inert text. */
export function groupMention(group: string): string {
  return /^S[A-Z0-9]{2,20}$/.test(group) ? `<!subteam^${group}>` : escapeMrkdwn(group);
}

export function renderPart(block: ReplyBlock): SlackBlock[] {
  switch (block.type) {
    case 'text':
      return chunk(escapeMrkdwn(block.text).split('\n'), { max: SLACK_LIMITS.sectionText, noun: 'lines' });
    case 'code':
      return chunk(escapeMrkdwn(block.text).split('\n'), {
        max: SLACK_LIMITS.sectionText,
        fence: true,
        noun: 'lines',
      });
    case 'list': {
      const head = block.title ? [`*${escapeMrkdwn(block.title)}*`] : [];
      const lines = block.items.map((item) => `• ${escapeMrkdwn(item)}`);
      return chunk(lines, { max: SLACK_LIMITS.sectionText, head, noun: 'items' });
    }
    case 'table':
      return renderTable(block.header, block.rows);
    case 'buttons':
      return renderButtons(block.buttons);
    case 'mentions': {
      // Only well-formed ids become mentions; anything else stays inert text.
      const people = [...block.users.map(userMention), ...block.groups.map(groupMention)];
      return chunk([`${escapeMrkdwn(block.label)}: ${people.join(' ')}`], {
        max: SLACK_LIMITS.sectionText,
        noun: 'lines',
      });
    }
  }
}

function renderTable(header: string[], rows: string[][]): SlackBlock[] {
  const all = [header, ...rows].map((row) => row.map((cell) => cutText(cell.replace(/\s+/g, ' '), MAX_CELL)));
  const columns = Math.max(0, ...all.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(0, ...all.map((row) => [...(row[i] ?? '')].length)),
  );
  const line = (row: string[]) =>
    escapeMrkdwn(
      widths
        .map((w, i) => (row[i] ?? '').padEnd(w))
        .join('  ')
        .trimEnd(),
    );
  // all[0] is the header row
  const head = [line(all[0]!), escapeMrkdwn(widths.map((w) => '-'.repeat(w)).join('  '))];
  return chunk(all.slice(1).map(line), {
    max: SLACK_LIMITS.sectionText,
    fence: true,
    head,
    repeatHead: true,
    noun: 'rows',
  });
}

export function renderButtons(buttons: ReplyButton[]): SlackBlock[] {
  const usable = buttons.filter((b) => b.value.length <= SLACK_LIMITS.actionValue);
  const blocks: SlackBlock[] = [];
  for (let i = 0; i < usable.length; i += SLACK_LIMITS.actionsElements) {
    const seen = new Map<string, number>();
    const elements = usable.slice(i, i + SLACK_LIMITS.actionsElements).map((b) => {
      const base = `conveyor_${b.action}`;
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      return {
        type: 'button' as const,
        action_id: n === 0 ? base : `${base}:${n}`,
        text: {
          type: 'plain_text' as const,
          text: cutText(b.label, SLACK_LIMITS.buttonText) || b.action,
          emoji: true,
        },
        value: b.value,
        ...(b.style ? { style: b.style } : {}),
        ...(b.confirm
          ? {
              confirm: {
                title: { type: 'plain_text' as const, text: cutText(b.confirm.title, SLACK_LIMITS.confirmTitle) },
                text: { type: 'plain_text' as const, text: cutText(b.confirm.text, SLACK_LIMITS.confirmText) },
                confirm: { type: 'plain_text' as const, text: cutText(b.confirm.yes, SLACK_LIMITS.confirmButton) },
                deny: { type: 'plain_text' as const, text: cutText(b.confirm.no, SLACK_LIMITS.confirmButton) },
                ...(b.style === 'danger' ? { style: 'danger' as const } : { style: 'primary' as const }),
              },
            }
          : {}),
      };
    });
    if (elements.length > 0) blocks.push({ type: 'actions', elements });
  }
  return blocks;
}

interface ChunkOptions {
  max: number;
  /** Wrap each section in a ``` fence. */
  fence?: boolean;
  /** Lines placed before the first chunk (repeated in every chunk with repeatHead). */
  head?: string[];
  repeatHead?: boolean;
  noun: string;
}

/** Pack lines into sections of at most `max` characters, at most MAX_SECTIONS_PER_PART of them. */
export function chunk(lines: string[], o: ChunkOptions): SlackBlock[] {
  const wrap = (body: string[]) => (o.fence ? '```\n' + body.join('\n') + '\n```' : body.join('\n'));
  const reserve = 60; // room for the fence and the "…and N more" line
  const limit = o.max - reserve;
  const sections: string[][] = [];
  let current: string[] = [...(o.head ?? [])];
  let size = current.reduce((n, l) => n + l.length + 1, 0);
  let used = 0;
  for (const raw of lines) {
    const text = cutEscaped(raw, limit - 200);
    if (size + text.length + 1 > limit && current.length > (o.repeatHead ? (o.head?.length ?? 0) : 0)) {
      sections.push(current);
      if (sections.length >= MAX_SECTIONS_PER_PART) break;
      current = o.repeatHead ? [...(o.head ?? [])] : [];
      size = current.reduce((n, l) => n + l.length + 1, 0);
    }
    current.push(text);
    size += text.length + 1;
    used += 1;
  }
  if (sections.length < MAX_SECTIONS_PER_PART && current.length > 0) sections.push(current);
  const rest = lines.length - used;
  const texts = sections.map(wrap).filter((t) => t.trim().length > 0);
  if (rest > 0 && texts.length > 0) texts[texts.length - 1] += `\n_…and ${rest} more ${o.noun}_`;
  return texts.map(section);
}

export function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: text.length > 0 ? text : ' ' } };
}

export function cutText(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, Math.max(0, max - 1)).join('') + '…';
}

/** Cut already-escaped text without splitting an entity such as `&amp;`. */
function cutEscaped(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const amp = text.lastIndexOf('&', end);
  if (amp >= 0 && amp > end - 5 && text.indexOf(';', amp) >= end) end = amp;
  return text.slice(0, end) + '…';
}
