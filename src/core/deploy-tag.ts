/**
 * Deploy tags: immutable, sortable, annotated tags such as "prod/2026.11.23.2" whose message
 * records the source commit, the operation, who asked and who approved.
 */
import { InputError } from './errors.js';
import { TAG_NAME } from './patterns.js';

const pad = (n: number) => String(n).padStart(2, '0');

function render(format: string, env: string, date: Date, n: number | string | null): string {
  return format
    .replaceAll('{env}', env)
    .replaceAll('{yyyy}', String(date.getUTCFullYear()))
    .replaceAll('{mm}', pad(date.getUTCMonth() + 1))
    .replaceAll('{dd}', pad(date.getUTCDate()))
    .replaceAll('{n}', n === null ? '' : String(n));
}

/** The fixed part every deploy tag of this environment starts with, e.g. "prod/". */
export function deployTagPrefix(format: string, env: string): string {
  const cut = format.search(/\{(yyyy|mm|dd|n)\}/);
  return (cut === -1 ? format : format.slice(0, cut)).replaceAll('{env}', env);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The next free tag for today: n is one more than the highest n already used today. One pass
 * over the names (an environment deployed for years has thousands of tags): today's tags are
 * those the format renders with some n (written as Conveyor writes numbers, no leading zero).
 */
export function nextDeployTag(format: string, env: string, date: Date, existing: string[]): string {
  const dayPrefix = render(format, env, date, null);
  const NUMBER = '\u0000'; // where {n} goes: a character no tag name holds
  const parts = render(format, env, date, NUMBER).split(NUMBER).map(escapeRegExp);
  // {n} may appear more than once: the same number each time
  const today = new RegExp(
    `^${parts[0]}${parts
      .slice(1)
      .map((p, i) => (i === 0 ? `([1-9][0-9]*)${p}` : `\\1${p}`))
      .join('')}$`,
  );
  let max = 0;
  for (const name of existing) {
    const m = today.exec(name);
    if (m?.[1]) max = Math.max(max, Number(m[1]));
  }
  const tag = render(format, env, date, max + 1);
  if (!TAG_NAME.test(tag) || tag === dayPrefix) throw new InputError(`git.tagFormat gives an invalid tag: ${tag}`);
  return tag;
}

export interface TagMessageFields {
  operation: string;
  source: string;
  requestedBy: string;
  approvedBy: string[];
  kind: string;
  ticket?: string | null;
  reason?: string | null;
  /** Rollbacks: the version (commit and tree) that ran before and is rolled back from. */
  rolledBackFrom?: { sha: string; tree: string } | null;
}

export function deployTagMessage(summary: string, f: TagMessageFields): string {
  const lines = [
    summary,
    '',
    `Source-Commit: ${f.source}`,
    `Operation: ${f.operation}`,
    `Kind: ${f.kind}`,
    `Requested-By: ${f.requestedBy}`,
    `Approved-By: ${f.approvedBy.length ? f.approvedBy.join(', ') : '(no approval required)'}`,
  ];
  if (f.ticket) lines.push(`Change-Ticket: ${f.ticket}`);
  if (f.reason) lines.push(`Reason: ${f.reason.replace(/\s+/g, ' ').slice(0, 300)}`);
  if (f.rolledBackFrom)
    lines.push(`Rolled-Back-From: ${f.rolledBackFrom.sha}`, `Rolled-Back-From-Tree: ${f.rolledBackFrom.tree}`);
  return lines.join('\n');
}

/** Read one trailer (e.g. "Requested-By") from a tag message. */
export function trailer(message: string, name: string): string | null {
  const m = new RegExp(`^${name}: (.*)$`, 'm').exec(message);
  return m ? m[1]!.trim() : null;
}
