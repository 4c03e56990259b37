/**
 * A local bare mirror of one repository. Every read of a GitHost comes from here, so reads cost
 * no API calls. Git runs in the helper process (git-helper.ts), never forked from the server:
 * refs and objects are resolved and files read through the helper's `git cat-file
 * --batch-command` (no process per call), the rest are single Git commands. Arguments that
 * reach Git are validated against strict patterns first and always land where Git reads a
 * revision, never an option.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError, UpstreamError } from '../core/errors.js';
import { BRANCH_NAME, SHA, TAG_NAME } from '../core/patterns.js';
import type { BranchHead, CommitInfo, DeployTag, FileStat, GitHost, RefsSnapshot } from '../core/ports.js';
import { GitHelper, type GitTimeLimit } from './git-helper.js';

export type GitReads = Pick<
  GitHost,
  | 'sync'
  | 'branchHead'
  | 'resolve'
  | 'treeOf'
  | 'isAncestor'
  | 'log'
  | 'commit'
  | 'diffStat'
  | 'tags'
  | 'readFile'
  | 'refsSnapshot'
>;

const FULL_SHA = /^[0-9a-f]{40}$/;
const IDENTITY = ['user.name=Conveyor', 'user.email=conveyor@localhost'];

export function assertBranch(branch: string): string {
  if (!BRANCH_NAME.test(branch)) throw new InputError(`not a valid branch name: ${JSON.stringify(branch)}`);
  return branch;
}

export function assertSha(sha: string): string {
  if (!SHA.test(sha)) throw new InputError(`not a valid commit sha: ${JSON.stringify(sha)}`);
  return sha;
}

export function assertTag(tag: string): string {
  if (!TAG_NAME.test(tag)) throw new InputError(`not a valid tag name: ${JSON.stringify(tag)}`);
  return tag;
}

function copySnapshot(s: RefsSnapshot): RefsSnapshot {
  return { heads: new Map(s.heads), tags: new Map([...s.tags].map(([p, list]) => [p, [...list]])) };
}

function assertTagPrefix(prefix: string): string {
  if (prefix && !TAG_NAME.test(prefix.replace(/\/$/, ''))) throw new InputError(`not a valid tag prefix: ${prefix}`);
  return prefix;
}

/**
 * One ref per record for `refsSnapshot`, fields NUL-separated (no commit or tag message can hold
 * a NUL): name, type, object, peeled object, tree, peeled tree (an annotated tag's commit's tree),
 * subject, author, author date, creator date, message. A record ends with "\0\n", so each name after the first starts with "\n".
 */
const REF_FORMAT =
  [
    '%(refname)',
    '%(objecttype)',
    '%(objectname)',
    '%(*objectname)',
    '%(tree)',
    '%(*tree)',
    '%(subject)',
    '%(authorname)',
    '%(authordate:iso-strict)',
    '%(creatordate:iso-strict)',
    '%(contents)',
  ].join('%00') + '%00';
const REF_FIELDS = 11;

/** The default longest a command that talks to the remote may run (config `git.networkTimeout`). */
export const DEFAULT_NETWORK_TIMEOUT_MS = 120_000;

function assertPath(path: string): string {
  if (!/^(?!\/)(?!-)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]{1,300}$/.test(path)) {
    throw new InputError(`not a valid repository path: ${JSON.stringify(path)}`);
  }
  return path;
}

/** Compare tag names so that "prod/2026.11.23.10" sorts after "prod/2026.11.23.9". */
export function compareTagNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

const MAINTAIN_EVERY_MS = 10 * 60_000;

export class GitMirror implements GitReads {
  private readonly helper: GitHelper;
  private readonly prefix: string[];
  private queue: Promise<unknown> = Promise.resolve();
  /** Last snapshots by question, with the fingerprint of the ref files they were read from. */
  private readonly snapshots = new Map<string, { fingerprint: string; snapshot: RefsSnapshot }>();
  /** Definite `merge-base --is-ancestor` answers, by "ancestor..descendant" (oldest dropped past 1,000). */
  private readonly ancestry = new Map<string, boolean>();
  /** The last `refSummary`, with the fingerprint of the ref files it was read from. */
  private summary:
    | { key: string; fingerprint: string; value: { heads: Map<string, string>; tagCount: number } }
    | undefined;
  /** When a fetch of this process last let Git look after the mirror (`maintenance run --auto`), ms since the epoch. */
  private maintainedAt = 0;

  constructor(
    private readonly options: {
      url: string;
      dir: string;
      config?: string[];
      helper?: GitHelper;
      /** The longest a clone, fetch, push or ls-remote may take before Git is stopped (default 120 s; config `git.networkTimeout`). */
      networkTimeoutMs?: number;
    },
  ) {
    mkdirSync(dirname(options.dir), { recursive: true });
    this.helper = options.helper ?? GitHelper.shared();
    this.prefix = [...IDENTITY, ...(options.config ?? [])].flatMap((c) => ['-c', c]);
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Run Git tasks one at a time per mirror: concurrent fetches fight over ref locks. */
  serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** `git <args>` in the mirror (through the helper); a non-zero exit rejects with Git's message. */
  private git(args: string[], cwd = this.options.dir): Promise<string> {
    return this.helper.run([...this.prefix, ...args], cwd, undefined, this.limitFor(args));
  }

  /**
   * Commands that talk to the remote are stopped past the network time limit: a server that
   * takes the connection and then says nothing must not hold a poll pass, or a promotion, for
   * ever. Local commands have none.
   */
  private limitFor(args: string[]): GitTimeLimit | undefined {
    const what = args[0];
    if (what !== 'clone' && what !== 'fetch' && what !== 'push' && what !== 'ls-remote') return undefined;
    return { timeoutMs: this.options.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS, what };
  }

  async sync(): Promise<void> {
    this.snapshots.clear();
    await this.serial(async () => {
      try {
        if (!existsSync(this.options.dir)) {
          this.helper.forget(this.options.dir);
          await this.git(
            ['clone', '--bare', '--quiet', '--', this.options.url, this.options.dir],
            dirname(this.options.dir),
          );
        }
        // Git's housekeeping of the mirror (`maintenance run --auto`: packs loose objects once
        // there are enough of them) runs at the end of a fetch, ~10 ms in front of whatever waits
        // for it: here on one fetch in ten minutes, as Git runs it (detached where it detaches).
        const maintain = Date.now() - this.maintainedAt >= MAINTAIN_EVERY_MS;
        if (maintain) this.maintainedAt = Date.now();
        await this.git([
          'fetch',
          '--quiet',
          '--prune',
          '--force',
          ...(maintain ? [] : ['--no-auto-maintenance']),
          'origin',
          '+refs/heads/*:refs/heads/*',
          '+refs/tags/*:refs/tags/*',
        ]);
      } catch (err) {
        throw new UpstreamError('git', `cannot fetch ${redactUrl(this.options.url)}: ${firstLine(err)}`, {
          cause: err,
        });
      }
    });
  }

  /** A Git command in the mirror, for adapters that write (plain remotes). */
  raw(args: string[]): Promise<string> {
    this.snapshots.clear();
    return this.git(args);
  }

  /** Like `raw`, with the exit code returned rather than thrown. */
  exec(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    this.snapshots.clear();
    return this.helper.exec([...this.prefix, ...args], this.options.dir, undefined, this.limitFor(args));
  }

  async branchHead(branch: string): Promise<string | null> {
    return this.revParse(`refs/heads/${assertBranch(branch)}^{commit}`);
  }

  async resolve(ref: string): Promise<string | null> {
    if (SHA.test(ref)) {
      const sha = await this.revParse(`${ref}^{commit}`);
      if (sha) return sha;
    }
    if (TAG_NAME.test(ref)) return this.revParse(`refs/tags/${ref}^{commit}`);
    throw new InputError(`not a valid tag or sha: ${JSON.stringify(ref)}`);
  }

  /** The commit a local tag points to, or null. */
  async tagCommit(name: string): Promise<string | null> {
    return this.revParse(`refs/tags/${assertTag(name)}^{commit}`);
  }

  async treeOf(sha: string): Promise<string> {
    const tree = await this.revParse(`${assertSha(sha)}^{tree}`);
    if (!tree) throw new InputError(`unknown commit ${sha}`);
    return tree;
  }

  /**
   * Commits never change, so whether one is an ancestor of another is asked of Git once (a plan
   * and its push both ask). Only Git's definite answers are kept (0: yes, 1: no, both commits
   * known); an error, such as a commit not fetched yet, is asked again next time.
   */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const key = `${assertSha(ancestor)}..${assertSha(descendant)}`;
    const known = this.ancestry.get(key);
    if (known !== undefined) return known;
    const res = await this.helper.exec(
      [...this.prefix, 'merge-base', '--is-ancestor', ancestor, descendant],
      this.options.dir,
    );
    if (res.code === 0 || res.code === 1) {
      if (this.ancestry.size >= 1000) this.ancestry.delete(this.ancestry.keys().next().value!);
      this.ancestry.set(key, res.code === 0);
    }
    return res.code === 0;
  }

  async log(base: string | null, head: string, max = 500): Promise<CommitInfo[]> {
    const range = base ? `${assertSha(base)}..${assertSha(head)}` : assertSha(head);
    const out = await this.git(['log', '-z', `--max-count=${max}`, `--format=${COMMIT_FORMAT}`, range]);
    return parseCommits(out);
  }

  async commit(sha: string): Promise<CommitInfo> {
    const out = await this.git(['show', '-s', '-z', `--format=${COMMIT_FORMAT}`, assertSha(sha)]);
    const [commit] = parseCommits(out);
    if (!commit) throw new InputError(`unknown commit ${sha}`);
    return commit;
  }

  async diffStat(base: string, head: string): Promise<FileStat[]> {
    const out = await this.git(['diff', '--numstat', '-z', assertSha(base), assertSha(head)]);
    const stats: FileStat[] = [];
    // -z: "added\tdeleted\tpath\0" (renames use an empty path followed by two paths)
    const parts = out.split('\0');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (!part) continue;
      const [added, deleted, path] = part.split('\t');
      if (path === undefined) continue;
      let name = path;
      if (name === '') {
        name = `${parts[i + 1]} → ${parts[i + 2]}`;
        i += 2;
      }
      stats.push({
        path: name,
        added: added === '-' ? 0 : Number(added),
        deleted: deleted === '-' ? 0 : Number(deleted),
      });
    }
    return stats;
  }

  async tags(prefix: string): Promise<DeployTag[]> {
    return (await this.refsSnapshot([], [prefix])).tags.get(prefix) ?? [];
  }

  /**
   * Answered from memory while the ref files it was read from are unchanged (a fetch, a push
   * or a `pack-refs` by any process changes them), else by one `git for-each-ref`.
   */
  async refsSnapshot(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot> {
    const key = JSON.stringify([branches, tagPrefixes]);
    const fingerprint = this.refsFingerprint(branches, tagPrefixes);
    const cached = this.snapshots.get(key);
    if (cached && cached.fingerprint === fingerprint) return copySnapshot(cached.snapshot);
    const wider = await this.fromWiderSnapshot(branches, tagPrefixes);
    if (wider) return wider;
    const snapshot = await this.readRefs(branches, tagPrefixes);
    if (this.snapshots.size > 64) this.snapshots.clear();
    this.snapshots.set(key, { fingerprint, snapshot });
    return copySnapshot(snapshot);
  }

  /**
   * The answer cut from a kept snapshot that asked for at least these branches and tag prefixes
   * (a plan reads every environment; its steps then ask for one environment's tags), while the
   * ref files it was read from are still unchanged (its own fingerprint, which covers these).
   */
  private async fromWiderSnapshot(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot | null> {
    for (const [key, entry] of this.snapshots) {
      const [hasBranches, hasPrefixes] = JSON.parse(key) as [string[], string[]];
      if (!branches.every((b) => hasBranches.includes(b)) || !tagPrefixes.every((p) => hasPrefixes.includes(p)))
        continue;
      if ((await this.refsFingerprint(hasBranches, hasPrefixes)) !== entry.fingerprint) continue;
      const { heads, tags } = entry.snapshot;
      return {
        heads: new Map(branches.filter((b) => heads.has(b)).map((b) => [b, heads.get(b)!])),
        tags: new Map(tagPrefixes.map((p) => [p, [...(tags.get(p) ?? [])]])),
      };
    }
    return null;
  }

  /**
   * Identity (inode, size, mtime) of every file and folder whose change could change the
   * answer: packed-refs, the branches' loose refs and their folder, the tag folders, and
   * FETCH_HEAD (every fetch rewrites it, whichever process fetched). Synchronous stats with
   * no error for a missing path: a few microseconds each from the kernel's cache, where the
   * promise API cost a thread-pool round trip and, for each missing file, a thrown error.
   */
  private refsFingerprint(branches: string[], tagPrefixes: string[]): string {
    const dir = this.options.dir;
    const paths = [
      'FETCH_HEAD',
      'packed-refs',
      'reftable/tables.list',
      'refs/heads',
      'refs/tags',
      ...branches.map((b) => `refs/heads/${assertBranch(b)}`),
      ...tagPrefixes.map((p) => `refs/tags/${assertTagPrefix(p)}`.replace(/\/[^/]*$/, '')),
    ];
    return [...new Set(paths)]
      .map((p) => {
        const s = statSync(join(dir, p), { bigint: true, throwIfNoEntry: false });
        return s ? `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : '-';
      })
      .join('|');
  }

  private async readRefs(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot> {
    const heads = new Map<string, BranchHead>();
    const tags = new Map<string, DeployTag[]>(tagPrefixes.map((p) => [p, []]));
    const patterns = [
      ...branches.map((b) => `refs/heads/${assertBranch(b)}`),
      ...tagPrefixes.map((p) => `refs/tags/${assertTagPrefix(p)}${p.endsWith('/') || !p ? '' : '*'}`),
    ];
    if (!patterns.length) return { heads, tags };
    const out = await this.git(['for-each-ref', `--format=${REF_FORMAT}`, ...patterns]);
    const fields = out.split('\0');
    for (let i = 0; i + REF_FIELDS <= fields.length; i += REF_FIELDS) {
      const [
        ref = '',
        type,
        object = '',
        peeled,
        tree = '',
        peeledTree = '',
        subject = '',
        author = '',
        authorDate = '',
        createdAt = '',
        contents = '',
      ] = fields.slice(i, i + REF_FIELDS);
      const refname = ref.replace(/^\n/, '');
      if (refname.startsWith('refs/heads/') && type === 'commit') {
        const branch = refname.slice('refs/heads/'.length);
        if (branches.includes(branch))
          heads.set(branch, { commit: { sha: object, subject, author, date: authorDate }, tree });
      } else if (refname.startsWith('refs/tags/')) {
        const name = refname.slice('refs/tags/'.length);
        const tag: DeployTag = {
          name,
          sha: peeled || object,
          date: createdAt,
          message: contents.trim(),
          ...(peeledTree || tree ? { tree: peeledTree || tree } : {}),
        };
        for (const p of tagPrefixes) if (name.startsWith(p)) tags.get(p)!.push(tag);
      }
    }
    for (const list of tags.values())
      list.sort((a, b) => b.date.localeCompare(a.date) || compareTagNames(b.name, a.name));
    return { heads, tags };
  }

  /**
   * The heads of these branches and how many tags the mirror holds, in one light
   * `git for-each-ref` (names and objects only), answered from memory while the ref files are
   * unchanged: what a reader compares with the remote's own answer (github-live.ts).
   */
  async refSummary(branches: string[]): Promise<{ heads: Map<string, string>; tagCount: number }> {
    const fingerprint = this.refsFingerprint(branches, ['']);
    const key = JSON.stringify(branches);
    if (this.summary?.key === key && this.summary.fingerprint === fingerprint) return this.summary.value;
    const heads = new Map<string, string>();
    let tagCount = 0;
    if (existsSync(this.options.dir)) {
      const patterns = [...branches.map((b) => `refs/heads/${assertBranch(b)}`), 'refs/tags/'];
      const out = await this.git(['for-each-ref', '--format=%(objectname) %(refname)', ...patterns]);
      for (const line of out.split('\n')) {
        const [object = '', ref = ''] = line.split(' ');
        if (ref.startsWith('refs/tags/')) tagCount++;
        else if (ref.startsWith('refs/heads/')) heads.set(ref.slice('refs/heads/'.length), object);
      }
    }
    const value = { heads, tagCount };
    this.summary = { key, fingerprint, value };
    return value;
  }

  /** A file's text at a commit; null when it is not there (or the path could not name a file in a repository). */
  async readFile(sha: string, path: string): Promise<string | null> {
    if (!existsSync(this.options.dir)) return null;
    try {
      const spec = `${assertSha(sha)}:${assertPath(path)}`;
      const got = await this.helper.cat('contents', spec, this.options.dir);
      return got?.type === 'blob' ? (got.content ?? '') : null;
    } catch {
      return null;
    }
  }

  /** The object a revision names (`<ref>^{commit}`, `<sha>^{tree}`), or null. */
  private async revParse(rev: string): Promise<string | null> {
    if (!existsSync(this.options.dir)) return null;
    try {
      const got = await this.helper.cat('info', rev, this.options.dir);
      return got && FULL_SHA.test(got.oid) ? got.oid : null;
    } catch {
      return null;
    }
  }
}

/** sha, subject, author, author date: NUL-separated, and `-z` ends each commit with a NUL too. */
const COMMIT_FORMAT = '%H%x00%s%x00%an%x00%aI';

function parseCommits(out: string): CommitInfo[] {
  const fields = out.split('\0');
  const commits: CommitInfo[] = [];
  for (let i = 0; i + 4 <= fields.length; i += 4) {
    const [sha = '', subject = '', author = '', date = ''] = fields.slice(i, i + 4);
    const trimmed = sha.trim();
    if (FULL_SHA.test(trimmed)) commits.push({ sha: trimmed, subject, author, date: date.trim() });
  }
  return commits;
}

export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return redactUrl(text.split('\n').find((l) => l.trim()) ?? 'unknown error').slice(0, 300);
}

/** Strip credentials and query strings from URLs before they reach a message or a log. */
export function redactUrl(text: string): string {
  return text.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1***@').replace(/(https?:\/\/[^\s?]+)\?\S*/g, '$1?***');
}

/** Base of every GitHost: reads are answered by the local mirror, so they cost no API calls. */
export abstract class MirroredHost {
  constructor(protected readonly reads: GitReads) {}

  sync = (options?: { fetch?: boolean }) => this.reads.sync(options);
  branchHead = (branch: string) => this.reads.branchHead(branch);
  resolve = (ref: string) => this.reads.resolve(ref);
  treeOf = (sha: string) => this.reads.treeOf(sha);
  isAncestor = (a: string, b: string) => this.reads.isAncestor(a, b);
  log = (base: string, head: string, max?: number) => this.reads.log(base, head, max);
  commit = (sha: string) => this.reads.commit(sha);
  diffStat = (base: string, head: string) => this.reads.diffStat(base, head);
  tags = (prefix: string) => this.reads.tags(prefix);
  refsSnapshot = (branches: string[], tagPrefixes: string[]) => this.reads.refsSnapshot(branches, tagPrefixes);
  readFile = (sha: string, path: string) => this.reads.readFile(sha, path);
}
