/** Render a Reply as plain text for the CLI and the HTTP API. */
import type { Reply, ReplyBlock } from './reply.js';

const MARK: Record<Reply['status'], string> = { ok: '', usage: 'error: ', refused: 'refused: ', error: 'error: ' };

function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c ?? '').padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function renderBlock(block: ReplyBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'code':
      return block.text;
    case 'table':
      return renderTable(block.header, block.rows);
    case 'list':
      return [block.title, ...block.items.map((i) => `  • ${i}`)].filter(Boolean).join('\n');
    case 'buttons':
      return block.buttons.map((b) => `[${b.label}]`).join(' ');
    case 'mentions':
      return `${block.label}: ${[...block.users, ...block.groups.map((g) => `group ${g}`)].join(', ')}`;
  }
}

export function renderText(reply: Reply): string {
  const parts = [`${MARK[reply.status]}${reply.title}`, ...reply.blocks.map(renderBlock)];
  return parts.filter((p) => p !== '').join('\n\n');
}
