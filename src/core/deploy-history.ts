/**
 * The deploy history of one (app, environment): every version that ran there, read from its
 * annotated deploy tags (oldest to newest), each marked current, superseded or rolled-back-from.
 *
 * A version is its tree. A rollback's tag records the tree it rolled back from
 * (`Rolled-Back-From-Tree`; older tags without it: the version deployed just before). That
 * version stays "rolled back from" until it is deployed there again on purpose. `rollback`
 * goes to the newest version before the current one that is not marked, so repeated rollbacks
 * walk back in time and never return to a version just abandoned.
 */
import { trailer } from './deploy-tag.js';
import type { DeployTag } from './ports.js';

export type HistoryMark = 'current' | 'superseded' | 'rolled-back-from';

export interface HistoryEntry {
  /** The deploy tag; null for a version pushed by hand (known from the head, or from the rollback that left it). */
  tag: string | null;
  sha: string;
  tree: string;
  /** promote | rollback | pushed by hand */
  kind: string;
  date: string;
  requestedBy: string | null;
  operation: string | null;
  mark: HistoryMark;
}

export interface DeployHistory {
  /** Newest first. */
  entries: HistoryEntry[];
  /** The tree the branch head has now (null: no branch). */
  currentTree: string | null;
  /** Trees rolled back from and not deployed again since. */
  rolledBackFrom: Set<string>;
  /** When the head carries no deploy tag: it was pushed by hand (or the tag is missing). */
  untaggedHead: boolean;
}

/**
 * @param tags the environment's deploy tags, any order, each with its `tree`
 * @param head the branch head's sha, tree and commit date, or null when the branch does not exist
 */
export function buildDeployHistory(
  tags: DeployTag[],
  head: { sha: string; tree: string; date?: string } | null,
): DeployHistory {
  const oldestFirst = [...tags].filter((t) => t.tree).reverse();
  const tagged = new Set(oldestFirst.map((t) => t.sha));
  const bad = new Set<string>();
  const events: Omit<HistoryEntry, 'mark'>[] = [];
  let previousTree: string | null = null;
  for (const tag of oldestFirst) {
    const tree = tag.tree!;
    const kind = trailer(tag.message, 'Kind') ?? (trailer(tag.message, 'Operation') ? 'promote' : 'tag');
    if (kind === 'rollback') {
      const fromSha = trailer(tag.message, 'Rolled-Back-From');
      const from: string | null = trailer(tag.message, 'Rolled-Back-From-Tree') ?? previousTree;
      // A version pushed by hand and then rolled back from: it ran here, so it belongs to the history.
      if (fromSha && from && !tagged.has(fromSha) && !events.some((e) => e.sha === fromSha)) {
        events.push({
          tag: null,
          sha: fromSha,
          tree: from,
          kind: 'pushed by hand',
          date: tag.date,
          requestedBy: null,
          operation: null,
        });
      }
      if (from && from !== tree) bad.add(from);
    }
    bad.delete(tree); // deployed (again): whatever it was marked, it runs here on purpose now
    events.push({
      tag: tag.name,
      sha: tag.sha,
      tree,
      kind,
      date: tag.date,
      requestedBy: trailer(tag.message, 'Requested-By'),
      operation: trailer(tag.message, 'Operation'),
    });
    previousTree = tree;
  }
  const untaggedHead = Boolean(head) && !tagged.has(head!.sha);
  if (head && untaggedHead && !events.some((e) => e.sha === head.sha)) {
    events.push({
      tag: null,
      sha: head.sha,
      tree: head.tree,
      kind: 'pushed by hand',
      date: head.date ?? '',
      requestedBy: null,
      operation: null,
    });
  }
  const currentTree = head?.tree ?? null;
  let currentSeen = false;
  const entries: HistoryEntry[] = [...events].reverse().map((e) => {
    let mark: HistoryMark = bad.has(e.tree) ? 'rolled-back-from' : 'superseded';
    if (!currentSeen && e.tree === currentTree) {
      mark = 'current';
      currentSeen = true;
    }
    return { ...e, mark };
  });
  return { entries, currentTree, rolledBackFrom: bad, untaggedHead };
}

/** Where a plain `rollback` goes: the newest earlier version that is neither current nor rolled back from. */
export function rollbackTarget(history: DeployHistory): HistoryEntry | null {
  return history.entries.find((e) => e.tree !== history.currentTree && !history.rolledBackFrom.has(e.tree)) ?? null;
}

/** The versions `rollback --to` accepts, newest first (every deploy tag, and versions pushed by hand). */
export function rollbackCandidates(history: DeployHistory): HistoryEntry[] {
  return history.entries.filter((e) => e.tree !== history.currentTree);
}

/** How an entry is named to a user: its tag, or its short sha. */
export function entryName(e: Pick<HistoryEntry, 'tag' | 'sha'>): string {
  return e.tag ?? e.sha.slice(0, 12);
}
