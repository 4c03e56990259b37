/**
 * The image strategy as a GitHost: a view of a GitOps repository in which each environment of one
 * app looks like the environment branch the engine already knows how to promote, roll back, gate,
 * lock and tag. Nothing in the engine or its Git steps changes.
 *
 * - Each environment has a *version branch* `conveyor/<app>/<env>` in the GitOps repository whose
 *   commits hold one file, `image`, with the version (`tag@sha256:…`). Equal versions have equal
 *   trees, so the engine's "same tree, same version" holds: promote copies the source's tree to
 *   the target as one commit, rollback returns to a tree that ran there.
 * - Moving an environment (`updateBranch` of its branch name) first writes the version into the
 *   environment's file under `gitops.paths` — one commit touching only the image field (spliced,
 *   never re-serialised; src/core/images/image-field.ts), pushed with the remote's
 *   compare-and-swap and retried on a GitOps branch that moved (other apps share it) — then moves
 *   the version branch. A resume after a crash between the two finds the field already written
 *   and only moves the branch.
 * - `sync` records in the version branches what the GitOps files say (an edit by hand, by CI, or
 *   by the registry discovery), so the files stay the truth.
 * - Deploy tags are named `<app>/<env>/…` in the GitOps repository (several apps may share it);
 *   the engine sees them without the prefix.
 * - `resolve` also takes an image version (`1.4.2`, `1.4.2@sha256:…`, `sha256:…`): the newest
 *   commit of a version branch that recorded it; and a deploy tag by its whole name
 *   (`worker/qa/…`, what people are shown: `tagNamespace`) or without the app's prefix.
 * - `compareVersions` and `describeWrite` (diff, --dry-run) put it in the images' words
 *   (./image-versions.ts).
 */
import type { AppConfig } from '../config/schema.js';
import { deployTagPrefix, nextDeployTag } from '../core/deploy-tag.js';
import { ConflictError, InputError, NotFoundError } from '../core/errors.js';
import { gitopsTarget, versionBranch } from '../core/images/gitops-target.js';
import { readImageField, writeImageField } from '../core/images/image-field.js';
import { formatVersion, type ImageVersion, parseVersion } from '../core/images/image-ref.js';
import type {
  CommitInfo,
  DeployTag,
  FileStat,
  GitHost,
  ImageEnvironments,
  RefsSnapshot,
  VersionComparison,
} from '../core/ports.js';
import type { PlainGitHost } from './git-plain.js';
import { GitObjects } from './gitops-objects.js';
import { type ImageSource, ImageVersions } from './image-versions.js';

export const VERSION_FILE = 'image';

export interface ImageEnvHostOptions {
  app: AppConfig;
  environments: readonly { name: string; branch: string }[];
  /** The GitOps repository. */
  host: PlainGitHost;
  /** git.tagFormat: versions recorded from the files get a deploy tag too (they ran there). */
  tagFormat: string;
  now?: () => Date;
  /** Where the images' labels and the application commits are read (diff); none: references only. */
  images?: ImageSource;
}

export class ImageEnvHost implements GitHost, ImageEnvironments {
  readonly kind = 'git' as const;
  protected readonly app: AppConfig;
  protected readonly gitopsBranch: string;
  /** Environment branch name (as configured) → environment name. */
  private readonly envOfBranch = new Map<string, string>();
  protected readonly inner: PlainGitHost;
  protected readonly objects: GitObjects;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tagFormat: string;
  private readonly now: () => Date;
  private readonly versions: ImageVersions;
  /** The registry (or OCI layout) the images are read from, when one is configured (the discovery uses it). */
  readonly imageSource: ImageSource | undefined;

  constructor(options: ImageEnvHostOptions) {
    this.app = options.app;
    this.tagFormat = options.tagFormat;
    this.now = options.now ?? (() => new Date());
    this.inner = options.host;
    this.objects = new GitObjects(options.host.mirror);
    this.gitopsBranch = options.app.gitops?.branch ?? 'main';
    for (const env of options.environments) this.envOfBranch.set(env.branch, env.name);
    this.imageSource = options.images;
    this.versions = new ImageVersions(options.app, options.images, () => this.now().getTime());
  }

  /** Deploy tags are `<app>/<env>/…` in the GitOps repository: people see (and may type) the whole name. */
  get tagNamespace(): string {
    return `${this.app.name}/`;
  }

  async compareVersions(fromSha: string | null, toSha: string): Promise<VersionComparison | null> {
    const to = await this.versionAt(toSha);
    if (!to) return null;
    return this.versions.compare(fromSha ? await this.versionAt(fromSha) : null, to);
  }

  async describeWrite(env: string, _fromSha: string | null, toSha: string): Promise<string[] | null> {
    const to = await this.versionAt(toSha);
    if (!to) return null;
    // What the file says now (the version branch may lag a hand edit it has not recorded yet).
    const head = await this.inner.branchHead(this.gitopsBranch);
    const { file, spec } = gitopsTarget(this.app, env);
    const text = head ? await this.inner.readFile(head, file) : null;
    let from: ImageVersion | null = null;
    try {
      from = text === null ? null : readImageField(text, spec, file);
    } catch {
      from = null;
    }
    return this.versions.describeWrite(
      env,
      from,
      to,
      `${this.gitopsBranch} of the GitOps repository ${this.gitopsRepo}`,
    );
  }

  private get gitopsRepo(): string {
    return this.app.gitops?.repo ?? this.app.repo;
  }

  /** The GitOps repository's own host (the discovery and the tests read it). */
  get gitops(): PlainGitHost {
    return this.inner;
  }

  async sync(): Promise<void> {
    await this.inner.sync();
    await this.exclusive(() => this.record());
  }

  branchHead(branch: string): Promise<string | null> {
    return this.inner.branchHead(this.real(branch));
  }

  async resolve(ref: string): Promise<string | null> {
    const whole = ref.startsWith(this.tagNamespace) ? await this.inner.resolve(ref) : null;
    if (whole) return whole;
    const tagged = /^[\w.-]+(\/[\w.-]+)+$/.test(ref) ? await this.inner.resolve(`${this.app.name}/${ref}`) : null;
    if (tagged) return tagged;
    const direct = /^[0-9a-f]{7,40}$/.test(ref) ? await this.inner.resolve(ref) : null;
    if (direct) return direct;
    let wanted: ImageVersion;
    try {
      wanted = parseVersion(ref);
    } catch {
      return null;
    }
    return this.findVersion(wanted);
  }

  treeOf = (sha: string) => this.inner.treeOf(sha);
  isAncestor = (a: string, b: string) => this.inner.isAncestor(a, b);
  log = (base: string, head: string, max?: number): Promise<CommitInfo[]> => this.inner.log(base, head, max);
  commit = (sha: string): Promise<CommitInfo> => this.inner.commit(sha);
  diffStat = (base: string, head: string): Promise<FileStat[]> => this.inner.diffStat(base, head);
  readFile = (sha: string, path: string) => this.inner.readFile(sha, path);
  /** The engine's commit, its subject naming the image it carries (`list` shows subjects). */
  async createCommit(input: { treeOfSha: string; parent: string; message: string }): Promise<string> {
    const v = await this.versionAt(input.treeOfSha);
    const message = v
      ? input.message.replace(/^[^\n]*/, (subject) => `${subject}: ${this.app.name}:${shortVersion(v)}`)
      : input.message;
    return this.inner.createCommit({ ...input, message });
  }

  async tags(prefix: string): Promise<DeployTag[]> {
    return (await this.inner.tags(`${this.app.name}/${prefix}`)).map((t) => this.unprefixed(t));
  }

  async refsSnapshot(branches: string[], tagPrefixes: string[]): Promise<RefsSnapshot> {
    const snap = await this.inner.refsSnapshot(
      branches.map((b) => this.real(b)),
      tagPrefixes.map((p) => `${this.app.name}/${p}`),
    );
    const heads = new Map<string, RefsSnapshot['heads'] extends Map<string, infer H> ? H : never>();
    for (const b of branches) {
      const head = snap.heads.get(this.real(b));
      if (head) heads.set(b, head);
    }
    const tags = new Map<string, DeployTag[]>();
    for (const p of tagPrefixes)
      tags.set(
        p,
        (snap.tags.get(`${this.app.name}/${p}`) ?? []).map((t) => this.unprefixed(t)),
      );
    return { heads, tags };
  }

  async updateBranch(branch: string, newSha: string, expectedOld: string | null): Promise<void> {
    const env = this.envOfBranch.get(branch);
    if (!env) return this.inner.updateBranch(branch, newSha, expectedOld);
    await this.exclusive(async () => {
      const message = await this.inner.mirror.raw(['log', '-1', '--format=%B', newSha]);
      await this.writeEnvironment(env, newSha, message.trim());
      await this.inner.updateBranch(versionBranch(this.app.name, env), newSha, expectedOld);
    });
  }

  createTag(input: { name: string; sha: string; message: string }): Promise<void> {
    return this.inner.createTag({ ...input, name: `${this.app.name}/${input.name}` });
  }

  /** The version a version-branch commit records, or null. */
  async versionAt(sha: string): Promise<ImageVersion | null> {
    const text = await this.inner.readFile(sha, VERSION_FILE);
    if (!text) return null;
    try {
      return parseVersion(text);
    } catch {
      return null;
    }
  }

  /** Make the environment run what the version-branch commit `versionSha` records (its GitOps file). */
  protected async writeEnvironment(env: string, versionSha: string, why: string): Promise<boolean> {
    const version = await this.versionAt(versionSha);
    if (!version) throw new InputError(`${versionSha.slice(0, 8)} records no image version`);
    return this.writeField(env, version, why);
  }

  /** Write `version` into the environment's GitOps file (nothing when it is already there). */
  private writeField(env: string, version: ImageVersion, why: string): Promise<boolean> {
    const { file, spec } = gitopsTarget(this.app, env);
    return this.commitToGitops(`${this.app.name}: ${env} → ${formatVersion(version)}`, why, async (head) => {
      const text = await this.inner.readFile(head, file);
      if (text === null) throw new NotFoundError(`the GitOps repository has no ${file} on ${this.gitopsBranch}`);
      const current = readImageField(text, spec, file);
      if (current.tag === version.tag && current.digest === version.digest) return null;
      return this.objects.treeWithFile(head, file, writeImageField(text, spec, version, file));
    });
  }

  /**
   * One commit on the GitOps branch with the tree `build` makes from its head (null: nothing to
   * change), pushed with the remote's compare-and-swap; built again on the new head when the
   * branch moved (other apps and people share it).
   */
  protected async commitToGitops(subject: string, why: string, build: (head: string) => Promise<string | null>) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const head = await this.inner.branchHead(this.gitopsBranch);
      if (!head) throw new NotFoundError(`the GitOps repository has no branch ${this.gitopsBranch}`);
      const tree = await build(head);
      if (tree === null) return false;
      const commit = await this.objects.commit(tree, head, `${subject}\n\n${why}`);
      try {
        await this.inner.updateBranch(this.gitopsBranch, commit, head);
        return true;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        await this.inner.sync();
      }
    }
    throw new ConflictError(`${this.gitopsBranch} of the GitOps repository keeps moving; nothing was overwritten`);
  }

  /** What the environment runs according to the GitOps repository at `head`: the version's tree, a label, the file. */
  protected async observe(env: string, head: string): Promise<{ tree: string; label: string; file: string } | null> {
    const { file, spec } = gitopsTarget(this.app, env);
    const text = await this.inner.readFile(head, file);
    if (text === null) return null;
    let version: ImageVersion;
    try {
      version = readImageField(text, spec, file);
    } catch {
      return null; // a file being reworked by hand; `list` shows the last version recorded
    }
    const tree = await this.objects.flatTree({ [VERSION_FILE]: `${formatVersion(version)}\n` });
    return { tree, label: shortVersion(version), file };
  }

  async currentVersion(env: string): Promise<ImageVersion | null> {
    await this.inner.sync();
    const head = await this.inner.branchHead(this.gitopsBranch);
    if (!head) return null;
    const { file, spec } = gitopsTarget(this.app, env);
    const text = await this.inner.readFile(head, file);
    if (text === null) return null;
    try {
      return readImageField(text, spec, file);
    } catch {
      return null;
    }
  }

  async deploy(env: string, version: ImageVersion, message: string): Promise<{ written: boolean }> {
    return this.exclusive(async () => {
      await this.inner.sync();
      const written = await this.writeField(env, version, message);
      await this.record({ kind: 'discovered', by: '(the registry discovery)', only: env });
      return { written };
    });
  }

  /** Record in each version branch what the environment's GitOps file says now. */
  private async record(
    how: { kind: string; by: string; only?: string } = { kind: 'recorded', by: '(the GitOps repository)' },
  ): Promise<void> {
    const head = await this.inner.branchHead(this.gitopsBranch);
    if (!head) return;
    let moved = false;
    for (const env of this.envOfBranch.values()) {
      if (how.only && env !== how.only) continue;
      const seen = await this.observe(env, head);
      if (!seen) continue;
      const branch = versionBranch(this.app.name, env);
      const recorded = await this.inner.branchHead(branch);
      if (recorded && (await this.inner.treeOf(recorded)) === seen.tree) continue;
      const commit = await this.objects.commit(
        seen.tree,
        recorded,
        `${this.app.name}:${seen.label} in ${env}\n\nRecorded from ${seen.file} at ${head}`,
      );
      try {
        await this.inner.updateBranch(branch, commit, recorded);
        await this.tagRecorded(env, commit, seen.label, seen.file, head, how);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        moved = true; // another replica recorded it first
      }
    }
    if (moved) await this.inner.sync();
  }

  /** A deploy tag for a version that ran without an operation (so history and rollback know it). */
  private async tagRecorded(
    env: string,
    sha: string,
    label: string,
    file: string,
    gitopsSha: string,
    how: { kind: string; by: string },
  ) {
    const existing = await this.tags(deployTagPrefix(this.tagFormat, env));
    const name = nextDeployTag(
      this.tagFormat,
      env,
      this.now(),
      existing.map((t) => t.name),
    );
    await this.createTag({
      name,
      sha,
      message: [
        `${this.app.name} ${label} in ${env}, recorded from ${file}`,
        '',
        `Source-Commit: ${gitopsSha}`,
        `Kind: ${how.kind}`,
        `Requested-By: ${how.by}`,
      ].join('\n'),
    });
  }

  /** The newest version-branch commit that recorded `wanted` (its tag, its digest, or both). */
  private async findVersion(wanted: ImageVersion): Promise<string | null> {
    for (const env of this.envOfBranch.values()) {
      const head = await this.inner.branchHead(versionBranch(this.app.name, env));
      if (!head) continue;
      const commits = [{ sha: head }, ...(await this.inner.log(null as unknown as string, head, 200))];
      for (const c of commits) {
        const v = await this.versionAt(c.sha);
        if (!v) continue;
        const tagOk = wanted.tag === undefined || wanted.tag === v.tag;
        const digestOk = wanted.digest === undefined || wanted.digest === v.digest;
        if (tagOk && digestOk) return c.sha;
      }
    }
    return null;
  }

  private real(branch: string): string {
    const env = this.envOfBranch.get(branch);
    return env ? versionBranch(this.app.name, env) : branch;
  }

  private unprefixed(t: DeployTag): DeployTag {
    return { ...t, name: t.name.slice(this.app.name.length + 1) };
  }

  /** One write or record at a time in this process (a record between a file write and its branch move would race it). */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** `1.4.2 (sha256:3f1c2a9d0b7e)` for commit subjects. */
export function shortVersion(v: ImageVersion): string {
  if (v.tag && v.digest) return `${v.tag} (${v.digest.slice(0, 19)})`;
  return v.tag ?? v.digest?.slice(0, 19) ?? '';
}
