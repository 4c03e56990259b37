/**
 * An image app's two versions as reply blocks (`diff`, a promotion's `--dry-run`): each side's
 * image reference with the revision it was built from, then the application commits between
 * them, or why they are not shown.
 */
import { shortSha, truncate } from './format.js';
import type { ImageSide, VersionComparison } from './ports.js';
import type { ReplyBlock } from './reply.js';

const MAX_ITEMS = 30;

function side(label: string, s: ImageSide | null): string {
  if (!s) return `${label}: (no image recorded)`;
  const built = s.revision ? ` (built from ${shortSha(s.revision)}${s.source ? ` of ${s.source}` : ''})` : '';
  return `${label}: ${s.reference}${built}`;
}

export function versionBlocks(cmp: VersionComparison, labels: { from: string; to: string }): ReplyBlock[] {
  const blocks: ReplyBlock[] = [
    { type: 'list', title: 'images', items: [side(labels.to, cmp.to), side(labels.from, cmp.from)] },
  ];
  if (cmp.commits) {
    const count = cmp.commitCount ?? cmp.commits.length;
    blocks.push(
      count
        ? {
            type: 'list',
            title: `${count} application commit(s) between them${cmp.repo ? ` (${cmp.repo})` : ''}`,
            items: [
              ...cmp.commits
                .slice(0, MAX_ITEMS)
                .map((c) => `${shortSha(c.sha)} ${truncate(c.subject, 72)} (${c.author})`),
              ...(count > MAX_ITEMS ? [`…and ${count - MAX_ITEMS} more`] : []),
            ],
          }
        : { type: 'text', text: `no application commits between them${cmp.repo ? ` (${cmp.repo})` : ''}` },
    );
  } else if (cmp.note) {
    blocks.push({ type: 'text', text: `application commits: ${cmp.note}` });
  }
  return blocks;
}
