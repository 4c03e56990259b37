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
    const parts = path.split('/');
    if (parts.some((p) => !p || p === '.' || p === '..')) throw new InputError(`not a path in a repository: ${path}`);
    const blob = await this.blob(text);
    const root = (await this.helper.run(['rev-parse', `${assertSha(commit)}^{tree}`], this.mirror.dir)).trim();
    return this.replace(root, parts, blob);
  }

  /** A commit of `tree` on `parent` (none for a first commit), by Conveyor. */
  async commit(tree: string, parent: string | null, message: string): Promise<string> {
    const args = ['commit-tree', assertSha(tree)];
    if (parent) args.push('-p', assertSha(parent));
    return (await this.mirror.raw([...args, '-m', message])).trim();
  }

  private async replace(tree: string | null, parts: string[], blob: string): Promise<string> {
    const [name, ...rest] = parts as [string, ...string[]];
    const entries = tree ? await this.lsTree(tree) : [];
    const existing = entries.find((e) => e.name === name);
    let entry: TreeEntry;
    if (rest.length === 0) {
      if (existing?.type === 'tree') throw new InputError(`${name} is a folder, not a file`);
      entry = { mode: existing?.mode === '100755' ? '100755' : '100644', type: 'blob', sha: blob, name };
    } else {
      if (existing && existing.type !== 'tree') throw new InputError(`${name} is a file, not a folder`);
      entry = { mode: '040000', type: 'tree', sha: await this.replace(existing?.sha ?? null, rest, blob), name };
    }
    return this.mktree([...entries.filter((e) => e.name !== name), entry]);
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
