/**
 * Git objects written straight into a bare mirror, without a work tree or an index: a blob from
 * text, a tree with one path replaced, a commit of a tree. What the image strategy needs to
 * commit one edited file of a GitOps repository (and the small version trees it records), then
 * push with the host's compare-and-swap.
 */
import { InputError } from '../core/errors.js';
import { GitHelper } from './git-helper.js';
import { assertSha, type GitMirror } from './git-mirror.js';

interface TreeEntry {
  mode: string;
  type: string;
  sha: string;
  name: string;
}

export class GitObjects {
  private readonly helper = GitHelper.shared();

  constructor(private readonly mirror: GitMirror) {}

  async blob(text: string): Promise<string> {
    return (await this.helper.run(['hash-object', '-w', '--stdin'], this.mirror.dir, text)).trim();
  }

  /** A tree of files at the top level only (`{ image: '…' }`). */
  async flatTree(files: Record<string, string>): Promise<string> {
    const entries: TreeEntry[] = [];
    for (const [name, text] of Object.entries(files)) {
      entries.push({ mode: '100644', type: 'blob', sha: await this.blob(text), name });
    }
    return this.mktree(entries);
  }

  /** The tree of `commit` with the file at `path` set to `text` (folders created as needed). */
  async treeWithFile(commit: string, path: string, text: string): Promise<string> {
    const blob = await this.blob(text);
    return this.setPath(await this.rootOf(commit), path, { mode: '100644', type: 'blob', sha: blob });
  }

  /** The tree `root` with `path` set to an entry (a blob or a tree), or removed when `entry` is null. */
  async setPath(root: string, path: string, entry: Omit<TreeEntry, 'name'> | null): Promise<string> {
    const parts = path.split('/');
    if (parts.some((p) => !p || p === '.' || p === '..')) throw new InputError(`not a path in a repository: ${path}`);
    return (await this.replace(root, parts, entry)) ?? (await this.mktree([]));
  }

  /** The tree at `path` in `treeish` (a commit or a tree), or null when there is none. */
  async subtree(treeish: string, path: string): Promise<string | null> {
    // (`<rev>:<path>^{tree}` would read `^{tree}` as part of the path.)
    const res = await this.helper.exec(['rev-parse', '--verify', '--quiet', `${treeish}:${path}`], this.mirror.dir);
    if (res.code !== 0) return null;
    const sha = res.stdout.trim();
    const type = await this.helper.run(['cat-file', '-t', sha], this.mirror.dir);
    return type.trim() === 'tree' ? sha : null;
  }

  /** The entry at `path` in a tree (its mode, type and object), or null. */
  async entryAt(tree: string, path: string): Promise<Omit<TreeEntry, 'name'> | null> {
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? tree : await this.subtree(tree, path.slice(0, slash));
    if (!parent) return null;
    const found = (await this.lsTree(parent)).find((e) => e.name === path.slice(slash + 1));
    return found ? { mode: found.mode, type: found.type, sha: found.sha } : null;
  }

  async rootOf(commit: string): Promise<string> {
    return (await this.helper.run(['rev-parse', `${assertSha(commit)}^{tree}`], this.mirror.dir)).trim();
  }

  /** A commit of `tree` on `parent` (none for a first commit), by Conveyor. */
  async commit(tree: string, parent: string | null, message: string): Promise<string> {
    const args = ['commit-tree', assertSha(tree)];
    if (parent) args.push('-p', assertSha(parent));
    return (await this.mirror.raw([...args, '-m', message])).trim();
  }

  /** The new tree, or null when it would be empty (Git keeps no empty folders). */
  private async replace(
    tree: string | null,
    parts: string[],
    set: Omit<TreeEntry, 'name'> | null,
  ): Promise<string | null> {
    const [name, ...rest] = parts as [string, ...string[]];
    const entries = tree ? await this.lsTree(tree) : [];
    const existing = entries.find((e) => e.name === name);
    let entry: TreeEntry | null;
    if (rest.length === 0) {
      if (set && set.type === 'blob' && existing?.type === 'tree')
        throw new InputError(`${name} is a folder, not a file`);
      entry = set
        ? { ...set, mode: set.type === 'blob' && existing?.mode === '100755' ? '100755' : set.mode, name }
        : null;
    } else {
      if (existing && existing.type !== 'tree') throw new InputError(`${name} is a file, not a folder`);
      const sub = await this.replace(existing?.type === 'tree' ? existing.sha : null, rest, set);
      entry = sub ? { mode: '040000', type: 'tree', sha: sub, name } : null;
    }
    const next = [...entries.filter((e) => e.name !== name), ...(entry ? [entry] : [])];
    return next.length ? this.mktree(next) : null;
  }

  private async lsTree(tree: string): Promise<TreeEntry[]> {
    const out = await this.helper.run(['ls-tree', '-z', assertSha(tree)], this.mirror.dir);
    return out
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        const [mode = '', type = '', sha = ''] = line.slice(0, tab).split(' ');
        return { mode, type, sha, name: line.slice(tab + 1) };
      });
  }

  private async mktree(entries: TreeEntry[]): Promise<string> {
    const input = entries.map((e) => `${e.mode} ${e.type} ${e.sha}\t${e.name}\0`).join('');
    return (await this.helper.run(['mktree', '-z'], this.mirror.dir, input)).trim();
  }
}
