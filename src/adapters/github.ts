/**
 * GitHost for GitHub: reads come from a local mirror (no API calls), writes go through the
 * REST API with compare-and-swap semantics (a branch only moves from the sha the caller saw,
 * only fast-forward, never forced). The Octokit client is built by the composition root with
 * `createOctokit` (retries with backoff, rate-limit throttling, token or GitHub App auth).
 */
import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { ConflictError, InputError, isConveyorError, NotFoundError, UpstreamError } from '../core/errors.js';
import { crashPoint } from '../core/fault-points.js';
import { BRANCH_NAME, TAG_NAME } from '../core/patterns.js';
import type { ChecksState, GitHost, PullRequestInfo } from '../core/ports.js';
import { type GitMirror, type GitReads, MirroredHost } from './git-mirror.js';
import { GitHubLiveReads } from './github-live.js';

/** The read side of a GitHost, served by a local mirror (see git-mirror.ts). */
export type GitMirrorReads = GitReads;

export interface OctokitLog {
  debug(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  error(message: string, ...rest: unknown[]): void;
}

export interface GitHubClientOptions {
  /** Personal or installation access token. */
  token?: string;
  /** GitHub App id, private key (PEM) and installation id: App auth, preferred over a token. */
  appId?: string | number;
  privateKey?: string;
  installationId?: number;
  /** REST base URL (GitHub Enterprise, or a local fake). Default https://api.github.com. */
  baseUrl?: string;
  /** Client-side throttling of writes and rate-limit handling (default on; tests turn it off). */
  throttle?: boolean;
  /** Retries of failed requests (5xx, network) with backoff. Default 3. */
  retries?: number;
  /** Milliseconds per second of backoff or Retry-After (default 1000; tests shrink it). */
  retryAfterBaseValue?: number;
  /** Where Octokit logs (default: nowhere, or every 4xx would print to the console). */
  log?: OctokitLog;
  /** The longest one request may take before it is aborted (default 120 s; config `git.networkTimeout`). */
  timeoutMs?: number;
}

const quietLog: OctokitLog = { debug() {}, info() {}, warn() {}, error() {} };
/** Never retried by plugin-retry: refusals that a retry cannot fix (403 rate limits are the throttler's). */
const DO_NOT_RETRY = [400, 401, 403, 404, 405, 409, 410, 422, 451];
const FULL_SHA = /^[0-9a-f]{40}$/;
const ZERO_SHA = '0000000000000000000000000000000000000000';
const UPDATE_REFS = `mutation ($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }`;

/** Builds the Octokit client for GitHubHost (called once by the composition root). */
export function createOctokit(opts: GitHubClientOptions = {}): Octokit {
  const log = opts.log ?? quietLog;
  const Client = Octokit.plugin(retry, throttling);
  const base = opts.retryAfterBaseValue ?? 1000;
  const auth =
    opts.appId !== undefined && opts.privateKey
      ? {
          authStrategy: createAppAuth,
          auth: { appId: opts.appId, privateKey: opts.privateKey, installationId: opts.installationId },
        }
      : opts.token
        ? { auth: opts.token }
        : {};
  const where = (o: { method?: string; url?: string }) => `${o.method ?? 'GET'} ${String(o.url ?? '').split('?')[0]}`;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  // Each request is aborted past the time limit (a server that takes the connection and then
  // says nothing must not hold a poll pass or a promotion), alongside any signal of its own.
  const timedFetch: typeof fetch = (url, init) => {
    const limit = AbortSignal.timeout(timeoutMs);
    return fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, limit]) : limit });
  };
  return new Client({
    ...auth,
    baseUrl: opts.baseUrl ?? 'https://api.github.com',
    userAgent: 'conveyor',
    log,
    request: { fetch: timedFetch },
    retry: { doNotRetry: DO_NOT_RETRY, retries: opts.retries ?? 3, retryAfterBaseValue: base },
    throttle:
      opts.throttle === false
        ? { enabled: false }
        : {
            retryAfterBaseValue: base,
            onRateLimit: (after, o, _client, retryCount) => {
              log.warn(`GitHub rate limit reached on ${where(o)}; resets in ${after}s`);
              return retryCount < 1 && after <= 60;
            },
            onSecondaryRateLimit: (after, o, _client, retryCount) => {
              log.warn(`GitHub secondary rate limit on ${where(o)}; retrying in ${after}s`);
              return retryCount < 2;
            },
          },
  });
}

/** The answer of `GitHubHost.pollBranches`. */
export type BranchPoll =
  | { status: 304 }
  | { status: 200; etag: string | null; pollInterval: number | null; heads: Record<string, string> };

export interface GitHubHostOptions {
  octokit: Octokit;
  owner: string;
  repo: string;
  mirror: GitMirrorReads;
  /** Web base for links (default https://github.com). */
  htmlBaseUrl?: string;
  /**
   * The environment branches in promotion order: sync() then asks GitHub for their heads and
   * comparisons in one GraphQL read rather than waiting for a fetch (github-live.ts). Needs a
   * GitMirror; without it, sync() fetches.
   */
  liveBranches?: string[];
}

export class GitHubHost extends MirroredHost implements GitHost {
  readonly kind = 'github' as const;
  private readonly octokit: Octokit;
  private readonly mirror: GitMirrorReads;
  private readonly repo: { owner: string; repo: string };
  private readonly htmlBaseUrl: string;
  /** Deploy tags this process wrote with their branch (updateBranchWithTag), until the tag step asks. */
  private readonly pushedTags = new Map<string, string>();
  /** The repository's GraphQL node id, asked once (it survives renames and transfers). */
  private nodeId: Promise<string> | undefined;
  /**
   * Refs move through GraphQL's `updateRefs` (several at once, each only from the value seen)
   * until this GitHub says it has no such mutation (an older Enterprise Server): REST from then on.
   */
  private atomicRefs = true;
  /** Reads as fresh as a fetch, from GitHub's answer while the mirror fetches behind it (liveBranches). */
  private readonly live: GitHubLiveReads | undefined;

  constructor(options: GitHubHostOptions) {
    const live =
      options.liveBranches?.length && 'refSummary' in options.mirror
        ? new GitHubLiveReads({
            mirror: options.mirror as GitMirror,
            owner: options.owner,
            repo: options.repo,
            branches: options.liveBranches,
            graphql: (query, variables) => options.octokit.graphql(query, variables),
          })
        : undefined;
    super(live ?? options.mirror);
    this.live = live;
    if (live) {
      live.onRepositoryId = (id) => {
        this.nodeId ??= Promise.resolve(id);
      };
    }
    this.octokit = options.octokit;
    this.mirror = live ?? options.mirror;
    this.repo = { owner: options.owner, repo: options.repo };
    this.htmlBaseUrl = (options.htmlBaseUrl ?? 'https://github.com').replace(/\/+$/, '');
  }

  /** Resolves once the mirror's fetches behind GitHub's answers are done (tests and benches wait on it). */
  async settled(): Promise<void> {
    await this.live?.settled();
  }

  /** The REST client and repository, for sinks that write beside the Git steps (deployments). */
  get rest(): { octokit: Octokit; owner: string; repo: string } {
    return { octokit: this.octokit, ...this.repo };
  }

  async createCommit(input: { treeOfSha: string; parent: string; message: string }): Promise<string> {
    const tree = await this.mirror.treeOf(input.treeOfSha);
    const parent = fullSha(input.parent);
    try {
      const { data } = await this.octokit.rest.git.createCommit({
        ...this.repo,
        message: input.message,
        tree,
        parents: [parent],
      });
      this.live?.wroteCommit(data.sha, { tree, message: input.message, author: data.author.name });
      return data.sha;
    } catch (err) {
      throw this.failure('create commit', err);
    }
  }

  async updateBranch(branch: string, newSha: string, expectedOld: string | null): Promise<void> {
    checkName(branch, BRANCH_NAME, 'branch');
    fullSha(newSha);
    try {
      if (await this.moveRefs([{ name: `refs/heads/${branch}`, before: expectedOld, after: newSha }])) {
        return this.live?.wroteBranch(branch, newSha);
      }
    } catch (err) {
      const current = (await this.refTarget(`heads/${branch}`))?.sha ?? null;
      if (current === newSha) return this.live?.wroteBranch(branch, newSha); // done already (a retry after a lost answer)
      throw this.notMoved(branch, expectedOld, current, err);
    }
    // No updateRefs on this GitHub: a compare-and-swap read, then a fast-forward-only update.
    const current = await this.refTarget(`heads/${branch}`);
    if (current?.sha === newSha) return this.live?.wroteBranch(branch, newSha); // already done (e.g. a retry after a lost response)
    if ((current?.sha ?? null) !== expectedOld) throw movedWhileWeWorked(branch, expectedOld, current?.sha ?? null);
    try {
      if (expectedOld === null) {
        await this.octokit.rest.git.createRef({ ...this.repo, ref: `refs/heads/${branch}`, sha: newSha });
      } else {
        await this.octokit.rest.git.updateRef({
          ...this.repo,
          ref: `heads/${branch}`,
          sha: newSha,
          force: false,
        });
      }
      this.live?.wroteBranch(branch, newSha);
    } catch (err) {
      if (statusOf(err) === 422 && /fast forward|already exists|does not exist/i.test(githubMessage(err))) {
        throw new ConflictError(`${branch} moved while we worked; GitHub refused the update (${githubMessage(err)})`, {
          cause: err,
        });
      }
      throw this.failure(`update ${branch}`, err);
    }
  }

  /**
   * The branch and its deploy tag in two round trips in a row: the tag object (unreachable until
   * a ref names it), then one `updateRefs` that moves the branch only from `expectedOld`, never
   * forced, and creates the tag's ref only where none exists: both or neither. When it is
   * refused, the branch and the tag are read: our tag object under the name (a lost answer) is
   * done; the branch at `newSha` without it was moved there by someone else, and moved elsewhere
   * is a conflict (nothing changed either way); still where we saw it with the tag's name taken
   * meanwhile moves the branch alone, and the tag step reports the name taken; otherwise GitHub's
   * answer is the error (the engine pauses on an outage). A refused move leaves only the
   * unreachable tag object behind.
   *
   * Without updateRefs (an older Enterprise Server) it takes three round trips in a row over
   * REST and is not atomic: the tag object is written while the branch's compare-and-swap read
   * and update run; the tag's ref once the branch moved. When the tag's object or ref cannot
   * be written after the branch moved, the tag step writes it, as after a crash.
   */
  async updateBranchWithTag(
    branch: string,
    newSha: string,
    expectedOld: string | null,
    tag: { name: string; message: string },
  ): Promise<void> {
    const name = checkName(tag.name, TAG_NAME, 'tag');
    checkName(branch, BRANCH_NAME, 'branch');
    fullSha(newSha);
    if (this.atomicRefs) this.repositoryId().catch(() => undefined); // asked beside the tag object, the first time
    const object = this.octokit.rest.git
      .createTag({ ...this.repo, tag: name, message: tag.message, object: newSha, type: 'commit' })
      .then(
        (res) => res.data.sha,
        () => null, // written again by the tag step, which reports why it cannot be
      );
    if (this.atomicRefs) {
      const tagSha = await object;
      if (tagSha === null) return this.updateBranch(branch, newSha, expectedOld);
      crashPoint('after-tag-object'); // the tag object written, no ref moved
      const refs = [
        { name: `refs/heads/${branch}`, before: expectedOld, after: newSha },
        { name: `refs/tags/${name}`, before: null, after: tagSha },
      ];
      let moved: boolean;
      try {
        moved = await this.moveRefs(refs);
      } catch (err) {
        const [current, tagRef] = await Promise.all([
          this.refTarget(`heads/${branch}`).then((r) => r?.sha ?? null),
          this.refTarget(`tags/${name}`),
        ]);
        // Our own tag object under the name: the update was applied and its answer lost (a retry
        // of it was then refused), whatever the branch did since.
        if (tagRef?.sha === tagSha) {
          this.pushedTags.set(name, newSha);
          return this.wroteBoth(branch, newSha);
        }
        // At newSha without our tag: updateRefs moves both or neither, so someone else moved it there
        // (a request planned on the same head); a deploy tag of ours on their move would be a lie.
        if (current === newSha) {
          throw new ConflictError(
            `${branch} already runs ${newSha.slice(0, 8)}: it was moved there meanwhile by someone else; nothing was changed`,
            { cause: err },
          );
        }
        // The tag's name taken: the branch alone, and the tag step reports the name.
        if (current === expectedOld && tagRef !== null) return this.updateBranch(branch, newSha, expectedOld);
        throw this.notMoved(branch, expectedOld, current, err);
      }
      if (moved) {
        this.pushedTags.set(name, newSha);
        return this.wroteBoth(branch, newSha);
      }
    }
    try {
      await this.updateBranch(branch, newSha, expectedOld);
    } catch (err) {
      await object; // settled before the caller re-plans or gives up: no write left in flight
      throw err;
    }
    crashPoint('after-branch-update'); // the branch moved, its tag's ref not yet
    const tagSha = await object;
    if (tagSha === null) return;
    try {
      await this.octokit.rest.git.createRef({ ...this.repo, ref: `refs/tags/${name}`, sha: tagSha });
      this.pushedTags.set(name, newSha);
      this.live?.wroteTag();
    } catch {
      // Already there, or GitHub failed: the tag step looks and writes (or refuses) as after a crash.
    }
  }

  /** The branch and its tag moved together: readers know both before the mirror fetches them. */
  private wroteBoth(branch: string, sha: string): void {
    this.live?.wroteBranch(branch, sha, true);
  }

  /**
   * Moves refs in one GraphQL `updateRefs` request: each only from `before` (null: only where
   * none exists), never forced, all or none. False when this GitHub has no updateRefs, or no
   * GraphQL endpoint (then remembered); throws when GitHub refused the move or could not be reached.
   */
  private async moveRefs(updates: { name: string; before: string | null; after: string }[]): Promise<boolean> {
    for (let attempt = 0; this.atomicRefs; attempt++) {
      const repositoryId = await this.repositoryId();
      try {
        await this.octokit.graphql(UPDATE_REFS, {
          input: {
            repositoryId,
            refUpdates: updates.map((u) => ({ name: u.name, beforeOid: u.before ?? ZERO_SHA, afterOid: u.after })),
          },
        });
        return true;
      } catch (err) {
        // No such mutation in this server's schema, or no GraphQL endpoint at all (a proxy in front).
        if (statusOf(err) === 404 || graphqlErrors(err).some(noUpdateRefs)) {
          this.atomicRefs = false;
          return false;
        }
        // The repository was deleted and made again (a new node id): asked again, once.
        if (attempt === 0 && graphqlErrors(err).some((e) => e.type === 'NOT_FOUND' && /node/i.test(e.message))) {
          this.nodeId = undefined;
          continue;
        }
        throw err;
      }
    }
    return false;
  }

  /** Why `updateRefs` left `branch` where it is (`current`): moved by someone, not a fast-forward, or GitHub's answer. */
  private notMoved(branch: string, expectedOld: string | null, current: string | null, err: unknown): Error {
    if (current !== expectedOld) return movedWhileWeWorked(branch, expectedOld, current, err);
    if (/fast[ -]?forward/i.test(graphqlMessage(err))) {
      return new ConflictError(`GitHub refused to move ${branch}: not a fast-forward of ${short(expectedOld)}`, {
        cause: err,
      });
    }
    return this.failure(`update ${branch}`, err);
  }

  private repositoryId(): Promise<string> {
    if (!this.nodeId) {
      const asked = this.call('read repository', () => this.octokit.rest.repos.get(this.repo)).then(
        (res) => res.data.node_id,
      );
      this.nodeId = asked;
      asked.catch(() => {
        if (this.nodeId === asked) this.nodeId = undefined;
      });
    }
    return this.nodeId;
  }

  async createTag(input: { name: string; sha: string; message: string; fresh?: boolean }): Promise<void> {
    const name = checkName(input.name, TAG_NAME, 'tag');
    const sha = fullSha(input.sha);
    // Written with its branch moments ago by this process (updateBranchWithTag): nothing to do.
    if (this.pushedTags.get(name) === sha) {
      this.pushedTags.delete(name);
      return;
    }
    if (!input.fresh) {
      // A resume: look first, so nothing is written twice.
      const existing = await this.tagCommit(name);
      if (existing !== null) {
        if (existing === sha) return;
        throw new ConflictError(`tag ${name} already exists on ${short(existing)}`);
      }
    }
    try {
      const tag = await this.octokit.rest.git.createTag({
        ...this.repo,
        tag: name,
        message: input.message,
        object: sha,
        type: 'commit',
      });
      // A ref that exists already is refused (422) and looked at below.
      await this.octokit.rest.git.createRef({ ...this.repo, ref: `refs/tags/${name}`, sha: tag.data.sha });
      this.live?.wroteTag();
    } catch (err) {
      if (statusOf(err) === 422 && /already exists/i.test(githubMessage(err))) {
        const now = await this.tagCommit(name);
        if (now === sha) return;
        throw new ConflictError(`tag ${name} was created on ${short(now)} by someone else meanwhile`, {
          cause: err,
        });
      }
      throw this.failure(`create tag ${name}`, err);
    }
  }

  async openPullRequest(input: { base: string; head: string; title: string; body: string }): Promise<PullRequestInfo> {
    checkName(input.base, BRANCH_NAME, 'branch');
    checkName(input.head, BRANCH_NAME, 'branch');
    try {
      const { data } = await this.octokit.rest.pulls.create({ ...this.repo, ...input });
      return toPullInfo(data);
    } catch (err) {
      if (statusOf(err) === 422 && /already exists/i.test(githubMessage(err))) {
        const open = await this.call('list pull requests', () =>
          this.octokit.rest.pulls.list({
            ...this.repo,
            state: 'open',
            base: input.base,
            head: `${this.repo.owner}:${input.head}`,
          }),
        );
        if (open.data[0]) return toPullInfo(open.data[0]);
      }
      throw this.failure(`open pull request ${input.head} → ${input.base}`, err);
    }
  }

  async getPullRequest(num: number): Promise<PullRequestInfo> {
    const { data } = await this.call(`read pull request #${num}`, () =>
      this.octokit.rest.pulls.get({ ...this.repo, pull_number: num }),
    );
    return toPullInfo(data);
  }

  /** Close a PR Conveyor opened and delete its conveyor/… branch (a withdrawn operation leaves nothing to merge). */
  async closePullRequest(num: number): Promise<void> {
    const { data } = await this.call(`close pull request #${num}`, () =>
      this.octokit.rest.pulls.update({ ...this.repo, pull_number: num, state: 'closed' }),
    );
    const head = data.head?.ref;
    if (head?.startsWith('conveyor/')) {
      await this.call(`delete branch ${head}`, () =>
        this.octokit.rest.git.deleteRef({ ...this.repo, ref: `heads/${head}` }),
      ).catch(() => undefined);
    }
  }

  async mergePullRequest(num: number, expectedHeadSha: string, message: string): Promise<PullRequestInfo> {
    fullSha(expectedHeadSha);
    const [title = '', ...rest] = message.split('\n');
    try {
      const { data } = await this.octokit.rest.pulls.merge({
        ...this.repo,
        pull_number: num,
        sha: expectedHeadSha,
        merge_method: 'merge',
        commit_title: title,
        commit_message: rest.join('\n').trim(),
      });
      const url = `${this.htmlBaseUrl}/${this.repo.owner}/${this.repo.repo}/pull/${num}`;
      this.live?.mergedUpstream(data.sha);
      return { number: num, url, state: 'merged', headSha: expectedHeadSha, mergeSha: data.sha };
    } catch (err) {
      const status = statusOf(err);
      if (status === 409) {
        throw new ConflictError(`pull request #${num} changed since ${short(expectedHeadSha)}; it was not merged`, {
          cause: err,
        });
      }
      if (status === 405) {
        const pr = await this.getPullRequest(num);
        if (pr.state === 'merged' && pr.headSha === expectedHeadSha) {
          if (pr.mergeSha) this.live?.mergedUpstream(pr.mergeSha);
          return pr; // merged by an earlier attempt
        }
        throw new ConflictError(`pull request #${num} cannot be merged: ${githubMessage(err)}`, {
          cause: err,
        });
      }
      throw this.failure(`merge pull request #${num}`, err);
    }
  }

  async checks(sha: string): Promise<ChecksState> {
    const ref = fullSha(sha);
    const [runs, status] = await this.call(`read checks of ${short(ref)}`, () =>
      Promise.all([
        this.octokit.paginate(this.octokit.rest.checks.listForRef, { ...this.repo, ref, per_page: 100 }),
        this.octokit.rest.repos.getCombinedStatusForRef({ ...this.repo, ref, per_page: 100 }),
      ]),
    );
    const states: ChecksState[] = [
      ...runs.map((run): ChecksState => {
        const conclusion: string = run.conclusion ?? '';
        if (run.status !== 'completed') return 'pending';
        if (['success', 'neutral', 'skipped'].includes(conclusion)) return 'success';
        return conclusion === 'stale' ? 'pending' : 'failure'; // stale: GitHub gave up waiting
      }),
      ...status.data.statuses.map(
        (s): ChecksState => (s.state === 'success' ? 'success' : s.state === 'pending' ? 'pending' : 'failure'),
      ),
    ];
    if (states.length === 0) return 'none';
    if (states.includes('failure')) return 'failure';
    return states.includes('pending') ? 'pending' : 'success';
  }

  /**
   * Conditional poll of the branch heads (`git/matching-refs/heads/` with `If-None-Match`):
   * an unchanged repository answers 304, which costs no rate limit. `pollInterval` is GitHub's
   * `X-Poll-Interval` in seconds when it sent one.
   */
  async pollBranches(etag: string | null): Promise<BranchPoll> {
    try {
      const res = await this.octokit.request('GET /repos/{owner}/{repo}/git/matching-refs/{ref}', {
        ...this.repo,
        ref: 'heads/',
        per_page: 100,
        headers: etag ? { 'if-none-match': etag } : {},
      });
      const heads: Record<string, string> = {};
      for (const r of res.data) {
        if (r.ref.startsWith('refs/heads/') && r.object.type === 'commit')
          heads[r.ref.slice('refs/heads/'.length)] = r.object.sha;
      }
      const interval = Number(res.headers['x-poll-interval']);
      return {
        status: 200,
        etag: typeof res.headers.etag === 'string' ? res.headers.etag : null,
        pollInterval: Number.isFinite(interval) && interval > 0 ? interval : null,
        heads,
      };
    } catch (err) {
      if (statusOf(err) === 304) return { status: 304 };
      throw this.failure('poll branches', err);
    }
  }

  compareUrl(base: string, head: string): string {
    return `${this.htmlBaseUrl}/${this.repo.owner}/${this.repo.repo}/compare/${base}...${head}`;
  }

  /** The object a ref points to (`heads/main`, `tags/x`), or null when it does not exist. */
  private async refTarget(ref: string): Promise<{ sha: string; type: string } | null> {
    try {
      const { data } = await this.octokit.rest.git.getRef({ ...this.repo, ref });
      return { sha: data.object.sha, type: data.object.type };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw this.failure(`read ref ${ref}`, err);
    }
  }

  /** The commit a tag points to (through an annotated tag object), or null when absent. */
  private async tagCommit(name: string): Promise<string | null> {
    let target = await this.refTarget(`tags/${name}`);
    for (let depth = 0; target?.type === 'tag' && depth < 5; depth++) {
      const sha = target.sha;
      const { data } = await this.call(`read tag ${name}`, () =>
        this.octokit.rest.git.getTag({ ...this.repo, tag_sha: sha }),
      );
      target = { sha: data.object.sha, type: data.object.type };
    }
    return target?.type === 'commit' ? target.sha : null;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  /** Maps an Octokit failure to the error family; messages carry no URL, token or header. */
  private failure(what: string, err: unknown): Error {
    if (isConveyorError(err)) return err; // mapped already (the repository's id, read on the way)
    const status = statusOf(err);
    const errors = graphqlErrors(err);
    const said = errors.length > 0 ? graphqlMessage(err) : githubMessage(err);
    const where = `${what} in ${this.repo.owner}/${this.repo.repo}`;
    if (errors.length > 0) {
      // GraphQL: GitHub answered 200 with `errors`, each with a `type`, as REST answers a status.
      const types = new Set(errors.map((e) => e.type));
      if (types.has('FORBIDDEN')) {
        return new UpstreamError('github', `${where}: refused by GitHub: check the token's permissions (${said})`, {
          cause: err,
        });
      }
      if (types.has('RATE_LIMITED')) {
        return new UpstreamError('github', `${where}: rate limited by GitHub (GraphQL)`, { cause: err });
      }
      return new InputError(`${where}: GitHub refused it (${said})`, undefined, { cause: err });
    }
    if (status === 404) return new NotFoundError(`${where}: not found on GitHub`, { cause: err });
    if (status === 400 || status === 422)
      return new InputError(`${where}: GitHub refused it (${said})`, undefined, { cause: err });
    if (status === 401)
      return new UpstreamError('github', `${where}: GitHub rejected the credentials (401)`, { cause: err });
    if (status === 403 || status === 429) {
      const limited = /rate limit/i.test(said);
      const why = limited ? 'rate limited by GitHub' : "refused by GitHub: check the token's permissions";
      return new UpstreamError('github', `${where}: ${why} (${status})`, { cause: err });
    }
    if (status === 409) return new ConflictError(`${where}: ${said}`, { cause: err });
    const answered = (err as { response?: unknown } | null)?.response !== undefined;
    const detail = answered && status ? `GitHub answered ${status}` : 'GitHub is unreachable';
    return new UpstreamError('github', `${where}: ${detail}`, { cause: err });
  }
}

function toPullInfo(d: {
  number: number;
  html_url: string;
  state: string;
  merged_at: string | null;
  merge_commit_sha: string | null;
  head: { sha: string };
}): PullRequestInfo {
  const merged = d.merged_at !== null;
  return {
    number: d.number,
    url: d.html_url,
    state: merged ? 'merged' : d.state === 'open' ? 'open' : 'closed',
    headSha: d.head.sha,
    ...(merged && d.merge_commit_sha ? { mergeSha: d.merge_commit_sha } : {}),
  };
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** GitHub's own words (`message` and validation `errors`), short, with URLs removed. */
function githubMessage(err: unknown): string {
  const data = (err as { response?: { data?: unknown } } | null)?.response?.data as
    | { message?: unknown; errors?: { message?: unknown }[] }
    | undefined;
  const parts = [data?.message, ...(Array.isArray(data?.errors) ? data.errors.map((e) => e?.message) : [])];
  const text = parts.filter((p): p is string => typeof p === 'string' && p !== '').join(': ');
  return (text || 'no details').replace(/\b\w+:\/\/\S+/g, '<url>').slice(0, 200);
}

/** GitHub's GraphQL `errors` of a failure (none for an HTTP failure): each message, and its `type` or `extensions.code`. */
function graphqlErrors(err: unknown): { message: string; type: string }[] {
  const errors = (err as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.map((e) => {
    const x = (e ?? {}) as { message?: unknown; type?: unknown; extensions?: { code?: unknown; type?: unknown } };
    const type = x.type ?? x.extensions?.type ?? x.extensions?.code;
    return { message: typeof x.message === 'string' ? x.message : '', type: typeof type === 'string' ? type : '' };
  });
}

/** An error saying this server's schema has no updateRefs (an older GitHub Enterprise Server). */
function noUpdateRefs(e: { message: string; type: string }): boolean {
  if (!/updateRefs|UpdateRefsInput/i.test(e.message)) return false;
  return (
    e.type === 'undefinedField' ||
    e.type === 'undefinedType' ||
    /doesn't exist|cannot query field|isn't a defined|unknown type/i.test(e.message)
  );
}

/** A GraphQL failure's messages (GitHub's `errors`), on one line, short, with URLs removed; or the error's own message. */
function graphqlMessage(err: unknown): string {
  const said = graphqlErrors(err)
    .map((e) => e.message)
    .filter(Boolean);
  const text = said.length > 0 ? said.join('; ') : err instanceof Error ? err.message : String(err);
  return text
    .replace(/\b\w+:\/\/\S+/g, '<url>')
    .replace(/\s+/g, ' ')
    .slice(0, 200);
}

function movedWhileWeWorked(branch: string, expectedOld: string | null, now: string | null, cause?: unknown) {
  return new ConflictError(
    `${branch} moved from ${short(expectedOld)} to ${short(now)} while we worked; nothing was changed`,
    cause === undefined ? undefined : { cause },
  );
}

function fullSha(sha: string): string {
  if (!FULL_SHA.test(sha)) throw new InputError(`not a full commit sha: ${JSON.stringify(sha)}`);
  return sha;
}

function checkName(name: string, pattern: RegExp, kind: string): string {
  if (!pattern.test(name)) throw new InputError(`not a valid ${kind} name: ${JSON.stringify(name)}`);
  return name;
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 7) : '(none)';
}
