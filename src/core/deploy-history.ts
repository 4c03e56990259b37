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
  tag: string;
  sha: string;
  tree: string;
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
 * @param head the branch head's sha and tree, or null when the branch does not exist
 */
export function buildDeployHistory(tags: DeployTag[], head: { sha: string; tree: string } | null): DeployHistory {
  const oldestFirst = [...tags].filter((t) => t.tree).reverse();
  const bad = new Set<string>();
  let previousTree: string | null = null;
  for (const tag of oldestFirst) {
    const tree = tag.tree!;
    const kind = trailer(tag.message, 'Kind') ?? 'promote';
    bad.delete(tree); // deployed (again): whatever it was marked, it ran here on purpose now
    if (kind === 'rollback') {
      const from: string | null = trailer(tag.message, 'Rolled-Back-From-Tree') ?? previousTree;
      if (from && from !== tree) bad.add(from);
    }
    previousTree = tree;
  }
  const currentTree = head?.tree ?? null;
  let currentSeen = false;
  const entries: HistoryEntry[] = [...oldestFirst].reverse().map((tag) => {
    const tree = tag.tree!;
    let mark: HistoryMark = bad.has(tree) ? 'rolled-back-from' : 'superseded';
    if (!currentSeen && tree === currentTree) {
      mark = 'current';
      currentSeen = true;
    }
    return {
      tag: tag.name,
      sha: tag.sha,
      tree,
      kind: trailer(tag.message, 'Kind') ?? 'promote',
      date: tag.date,
      requestedBy: trailer(tag.message, 'Requested-By'),
      operation: trailer(tag.message, 'Operation'),
      mark,
    };
  });
  return { entries, currentTree, rolledBackFrom: bad, untaggedHead: Boolean(head) && !tags.some((t) => t.sha === head!.sha) };
}

/** Where a plain `rollback` goes: the newest earlier version that is neither current nor rolled back from. */
export function rollbackTarget(history: DeployHistory): HistoryEntry | null {
  return history.entries.find((e) => e.tree !== history.currentTree && !history.rolledBackFrom.has(e.tree)) ?? null;
}

/** The versions `rollback --to` accepts, newest first, one entry per version. */
export function rollbackCandidates(history: DeployHistory): HistoryEntry[] {
  const seen = new Set<string>();
  return history.entries.filter((e) => {
    if (e.tree === history.currentTree || seen.has(e.tree)) return false;
    seen.add(e.tree);
    return true;
  });
}
