/**
 * The sandbox's demo repositories, written without a work tree: a `git fast-import` stream built
 * in memory (`FastImportStream`) and imported into a new bare repository, one Git process per
 * import. `writeDemoRepo` makes the api and web repositories (linear history, environment
 * branches, deploy tags whose message names the commit); worker-demo.ts builds its own streams.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export interface Who {
  name: string;
  email: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** A `git fast-import` stream, built in memory. */
export class FastImportStream {
  private parts: Buffer[] = [];
  private mark = 0;
  data(text: string): this {
    const body = Buffer.from(text, 'utf8');
    this.parts.push(Buffer.from(`data ${body.length}\n`), body, Buffer.from('\n'));
    return this;
  }
  line(text: string): this {
    this.parts.push(Buffer.from(`${text}\n`));
    return this;
  }
  /** A commit on `ref` with `files` (path → content; the whole tree when `replace`); returns its mark. */
  commit(
    ref: string,
    who: Who,
    message: string,
    files: Record<string, string>,
    parent: number | null,
    replace = false,
  ): number {
    const mark = ++this.mark;
    const sig = `${who.name} <${who.email}> ${Math.floor(who.at / 1000)} +0000`;
    this.line(`commit ${ref}`).line(`mark :${mark}`).line(`author ${sig}`).line(`committer ${sig}`).data(message);
    if (parent !== null) this.line(`from :${parent}`);
    if (replace) this.line('deleteall');
    for (const [path, text] of Object.entries(files)) this.line(`M 100644 inline ${path}`).data(text);
    return mark;
  }
  /** Point `ref` at a commit: a mark (`:3`) or a sha. */
  reset(ref: string, to: string): void {
    this.line(`reset ${ref}`).line(`from ${to}`);
  }
  /** An annotated tag on a commit: a mark number or a sha. */
  tag(name: string, on: number | string, who: Who, message: string): void {
    this.line(`tag ${name}`).line(`from ${typeof on === 'number' ? `:${on}` : on}`);
    this.line(`tagger ${who.name} <${who.email}> ${Math.floor(who.at / 1000)} +0000`).data(message);
  }
  get buffer(): Buffer {
    return Buffer.concat([...this.parts, Buffer.from('done\n')]);
  }
}

function git(args: string[], input?: Buffer): string {
  return execFileSync('git', args, {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });
}

/** A new, empty bare repository whose HEAD is `branch`. */
export function initBare(bare: string, branch: string): void {
  git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
}

/** Import `stream` into `bare`; with `marksFile`, the commits' ids by mark (`:1` → sha). */
export function fastImport(bare: string, stream: FastImportStream, marksFile?: string): Map<string, string> {
  git(
    [
      '--git-dir',
      bare,
      'fast-import',
      '--quiet',
      '--done',
      '--date-format=raw',
      ...(marksFile ? [`--export-marks=${marksFile}`] : []),
    ],
    stream.buffer,
  );
  if (!marksFile) return new Map();
  const marks = new Map(
    readFileSync(marksFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  rmSync(marksFile, { force: true });
  return marks;
}

export interface DemoRepoCommit {
  subject: string;
  author: string;
  /** Files added or changed by this commit (path → text); earlier files stay. */
  files: Record<string, string>;
  /** The author and commit date. */
  date: Date;
}

export interface DemoRepo {
  /** Commits in order, each the parent of the next; the first branch below starts at the last. */
  commits: DemoRepoCommit[];
  /** Branch → index of the commit it points at. The first one is HEAD. */
  branches: Record<string, number>;
  tags?: { name: string; commit: number; date: Date; message(sha: string): string }[];
}

const SANDBOX: Who = { name: 'Conveyor Sandbox', email: 'sandbox@localhost', at: 0 };

/**
 * A linear demo repository: commits and branches in one import, then (a tag's message may name
 * its commit, as deploy tags' `Source-Commit:` does) the tags in a second, by the commits' ids.
 */
export function writeDemoRepo(bare: string, repo: DemoRepo): void {
  const head = Object.keys(repo.branches)[0];
  if (!head) throw new Error('a demo repository needs a branch');
  initBare(bare, head);
  const history = new FastImportStream();
  let parent: number | null = null;
  for (const c of repo.commits) {
    const who = { name: c.author, email: `${c.author.split(' ')[0]!.toLowerCase()}@example.com`, at: c.date.getTime() };
    parent = history.commit(`refs/heads/${head}`, who, `${c.subject}\n`, c.files, parent);
  }
  for (const [branch, i] of Object.entries(repo.branches)) history.reset(`refs/heads/${branch}`, `:${i + 1}`);
  const marks = fastImport(bare, history, `${bare}.marks`);
  if (!repo.tags?.length) return;
  const tags = new FastImportStream();
  for (const t of repo.tags) {
    const sha = marks.get(`:${t.commit + 1}`);
    if (!sha) throw new Error(`a demo tag names commit ${t.commit}, which is not there`);
    tags.tag(t.name, sha, { ...SANDBOX, at: t.date.getTime() }, `${t.message(sha).trimEnd()}\n`);
  }
  fastImport(bare, tags);
}
