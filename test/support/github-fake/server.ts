/**
 * The GitHub fake's server: its state, the test controls, authentication, rate limits, injected
 * faults, and the dispatch of REST requests to the handlers in ROUTES (routes.ts).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, gitMaybe, gitPersonEnv, iso, nodeId, readGit, sha1 } from './git-plumbing.js';
import { releaseGit } from './git-process.js';
import { HttpError, match, ok, type Reply, readJson } from './http.js';
import { ROUTES } from './routes.js';
import { serveGit } from './smart-http.js';
import type { Check, FakeCheckState, FakeRequest, GitHubFakeOptions, RepoState } from './state.js';

export class GitHubFake {
  /** REST base URL, for Octokit's `baseUrl`. */
  url = '';
  readonly token: string;
  readonly appId: string;
  /** Installation ids for which an App asked for a token, in order. */
  readonly installations: string[] = [];
  readonly calls = { total: 0, rateLimited: 0 };
  readonly requests: FakeRequest[] = [];
  private readonly repos = new Map<string, RepoState>();
  private readonly checks = new Map<string, Check[]>();
  private readonly faults: {
    left: number;
    status: number;
    headers: Record<string, string>;
    message?: string;
    only?: { method: string; path: RegExp };
  }[] = [];
  private readonly lostAnswers: {
    left: number;
    status: number;
    only: { method: string; path: RegExp };
    afterwards?: () => Promise<unknown>;
  }[] = [];
  private readonly graphqlFaults: { left: number; errors: { type: string; message: string }[] }[] = [];
  private readonly server: Server;
  readonly now: () => Date;
  private readonly pollInterval: number;
  private readonly rateLimit: number;
  private remaining: number;
  private nextId = 1000;
  private root = '';

  constructor(readonly options: GitHubFakeOptions = {}) {
    this.token = options.token ?? 'test-token';
    this.appId = options.appId ?? '1';
    this.now = options.now ?? (() => new Date());
    this.pollInterval = options.pollInterval ?? 60;
    this.rateLimit = this.remaining = options.rateLimit ?? 5000;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
  }

  async start(): Promise<this> {
    this.root = await mkdtemp(join(tmpdir(), 'github-fake-'));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    readGit.release();
    releaseGit();
    await rm(this.root, { recursive: true, force: true });
  }

  /** Smart-HTTP clone URL of a repository. */
  gitUrl(owner: string, repo: string): string {
    return `${this.url}/${owner}/${repo}.git`;
  }

  /** Creates an empty bare repository; returns its path (push to it directly to seed it). */
  async createRepo(owner: string, repo: string, options: { defaultBranch?: string } = {}): Promise<string> {
    const dir = join(this.root, owner, `${repo}.git`);
    await mkdir(dir, { recursive: true });
    const defaultBranch = options.defaultBranch ?? 'main';
    await git(dir, ['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`]);
    const at = iso(this.now());
    this.repos.set(`${owner}/${repo}`, {
      owner,
      name: repo,
      id: this.id(),
      dir,
      defaultBranch,
      createdAt: at,
      pulls: [],
    });
    return dir;
  }

  /**
   * Commits files (content, or null to delete) on top of `branch` directly in the bare
   * repository, as a push by someone else would; returns the new sha. An absent branch starts
   * from `from` (a branch or sha; default: the default branch, or no parent in an empty repo).
   */
  async commitFiles(
    owner: string,
    repo: string,
    branch: string,
    files: Record<string, string | null>,
    message = 'change',
    from?: string,
  ): Promise<string> {
    const { dir, defaultBranch } = this.repoOrThrow(owner, repo);
    const existing = await gitMaybe(dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]);
    const start = from ?? defaultBranch;
    const parent = existing ?? (await gitMaybe(dir, ['rev-parse', '--verify', '--quiet', `${start}^{commit}`]));
    const index = join(this.root, `index-${this.id()}`);
    const env = { GIT_INDEX_FILE: index };
    await git(dir, parent ? ['read-tree', parent] : ['read-tree', '--empty'], undefined, env);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) {
        await git(dir, ['update-index', '--force-remove', '--', path], undefined, env);
      } else {
        const blob = await git(dir, ['hash-object', '-w', '--stdin'], content);
        await git(dir, ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], undefined, env);
      }
    }
    const tree = await git(dir, ['write-tree'], undefined, env);
    await rm(index, { force: true });
    const now = this.now();
    const sha = await git(dir, ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message], undefined, {
      ...gitPersonEnv('AUTHOR', { name: 'Dev', email: 'dev@example.test' }, now),
      ...gitPersonEnv('COMMITTER', { name: 'Dev', email: 'dev@example.test' }, now),
    });
    await git(dir, ['update-ref', `refs/heads/${branch}`, sha, existing ?? '']);
    return sha;
  }

  /** Current sha of a ref ("main", "refs/tags/x"), or null. */
  async refSha(owner: string, repo: string, ref: string): Promise<string | null> {
    const full = ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
    return gitMaybe(this.repoOrThrow(owner, repo).dir, ['rev-parse', '--verify', '--quiet', full]);
  }

  /**
   * Sets the CI state of a commit: a check run (default) or a commit status named `name`
   * ('ci' by default). 'none' removes every check and status of the commit.
   */
  setChecks(sha: string, state: FakeCheckState, options: { name?: string; kind?: 'check-run' | 'status' } = {}): void {
    if (state === 'none') {
      this.checks.delete(sha);
      return;
    }
    const kind = options.kind ?? 'check-run';
    const name = options.name ?? 'ci';
    const list = (this.checks.get(sha) ?? []).filter((c) => !(c.kind === kind && c.name === name));
    list.push({ kind, name, state, id: this.id(), at: iso(this.now()) });
    this.checks.set(sha, list);
  }

  /**
   * The next `n` API requests answer `status` (403 + message "secondary rate limit" by default for 403);
   * with `only`, the next `n` requests of that method whose path matches (others pass untouched).
   */
  failNext(
    n: number,
    status: number,
    headers: Record<string, string> = {},
    message?: string,
    only?: { method: string; path: RegExp },
  ): void {
    this.faults.push({ left: n, status, headers, message, only });
  }

  /**
   * The next `n` requests of that method whose path matches are carried out (their writes are
   * kept), then answered `status` as if the answer was lost on the way (a proxy's 502, say);
   * `afterwards` runs between the two, e.g. someone else's push.
   */
  loseNextAnswer(
    n: number,
    status: number,
    only: { method: string; path: RegExp },
    afterwards?: () => Promise<unknown>,
  ): void {
    this.lostAnswers.push({ left: n, status, only, afterwards });
  }

  /** The next `n` GraphQL requests are answered 200 with these `errors` (GitHub's refusal of a whole request), doing nothing. */
  graphqlErrorsNext(n: number, errors: { type: string; message: string }[]): void {
    this.graphqlFaults.push({ left: n, errors });
  }

  /** An injected GraphQL refusal for this request, if one is due (graphql.ts asks). */
  takeGraphqlFault(): { type: string; message: string }[] | undefined {
    const fault = this.graphqlFaults[0];
    if (!fault) return undefined;
    if (--fault.left <= 0) this.graphqlFaults.shift();
    return fault.errors;
  }

  resetCounters(): void {
    this.calls.total = 0;
    this.calls.rateLimited = 0;
    this.requests.length = 0;
  }
  // --------------------------------------------------------------------------- plumbing

  id(): number {
    return this.nextId++;
  }

  repoByName(owner: string, repo: string): RepoState | undefined {
    return this.repos.get(`${owner}/${repo}`);
  }

  /** The repository whose GraphQL node id (REST `node_id`) is `id`. */
  repoByNodeId(id: string): RepoState | undefined {
    return [...this.repos.values()].find((r) => nodeId('Repository', r.id) === id);
  }

  repoOrThrow(owner: string, repo: string): RepoState {
    const state = this.repoByName(owner, repo);
    if (!state) throw new HttpError(404, 'Not Found');
    return state;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (/^\/[^/]+\/[^/]+\.git\//.test(url.pathname)) return serveGit(this.root, this.token, req, res, url);
    this.calls.total++;
    const reply = await this.api(req, url).catch((err: unknown) => {
      if (err instanceof HttpError) return this.errorReply(err.status, err.message, err.extra);
      throw err;
    });
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-github-request-id': `FAKE:${this.id()}`,
      ...reply.headers,
    };
    let status = reply.status;
    let payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
    if (req.method === 'GET' && status === 200) {
      headers.etag = `W/"${sha1(payload)}"`;
      headers['x-poll-interval'] = String(this.pollInterval);
      if (req.headers['if-none-match'] === headers.etag) {
        status = 304;
        payload = '';
      }
    }
    if (status !== 304 && !reply.free) {
      this.remaining = Math.max(0, this.remaining - 1);
      this.calls.rateLimited++;
    }
    Object.assign(headers, this.rateHeaders());
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, status });
    res.writeHead(status, headers);
    res.end(status === 304 || status === 204 ? undefined : payload);
  }

  rateHeaders(): Record<string, string> {
    return {
      'x-ratelimit-limit': String(this.rateLimit),
      'x-ratelimit-remaining': String(this.remaining),
      'x-ratelimit-used': String(this.rateLimit - this.remaining),
      'x-ratelimit-reset': String(Math.floor(this.now().getTime() / 1000) + 3600),
      'x-ratelimit-resource': 'core',
    };
  }

  private errorReply(status: number, message: string, extra: Record<string, unknown> = {}): Reply {
    return {
      status,
      body: { message, documentation_url: 'https://docs.github.com/rest', status: String(status), ...extra },
    };
  }

  private async api(req: IncomingMessage, url: URL): Promise<Reply> {
    const auth = /^(?:token|bearer) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const installation = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname)?.[1];
    if (installation !== undefined && req.method === 'POST') return this.installationToken(auth, installation);
    if (auth !== this.token) return { ...this.errorReply(401, 'Bad credentials'), free: true };
    const i = this.faults.findIndex((f) => !f.only || (f.only.method === req.method && f.only.path.test(url.pathname)));
    const fault = this.faults[i];
    if (fault) {
      if (--fault.left <= 0) this.faults.splice(i, 1);
      const message =
        fault.message ??
        (fault.status === 403
          ? 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
          : 'Server Error');
      const reply = this.errorReply(fault.status, message);
      return { ...reply, headers: fault.headers, free: true };
    }
    if (this.remaining <= 0 && url.pathname !== '/rate_limit') {
      return this.errorReply(403, 'API rate limit exceeded for user.');
    }
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    for (const [method, pattern, handler] of ROUTES) {
      if (method !== req.method) continue;
      const params = match(pattern, segments);
      if (!params) continue;
      const body = await readJson(req);
      const { owner, repo: name } = params; // both or neither: every pattern under /repos names both
      const repo = owner && name !== undefined ? this.repoOrThrow(owner, name) : (undefined as unknown as RepoState);
      const reply = await handler(this, { params, query: url.searchParams, body, repo });
      const l = this.lostAnswers.findIndex((f) => f.only.method === req.method && f.only.path.test(url.pathname));
      const lost = this.lostAnswers[l];
      if (!lost) return reply;
      if (--lost.left <= 0) this.lostAnswers.splice(l, 1);
      await lost.afterwards?.();
      return { ...this.errorReply(lost.status, 'Server Error'), free: true };
    }
    return this.errorReply(404, 'Not Found');
  }

  /**
   * GitHub App auth: a JWT whose `iss` is `appId` buys the configured token for any
   * installation id (the JWT's signature is not checked).
   */
  private installationToken(jwt: string | undefined, installationId: string): Reply {
    const payload = (jwt ?? '').split('.')[1] ?? '';
    let iss: unknown;
    try {
      iss = (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iss?: unknown }).iss;
    } catch {
      iss = undefined;
    }
    if (String(iss) !== this.appId) {
      return { ...this.errorReply(401, 'A JSON web token could not be decoded'), free: true };
    }
    this.installations.push(installationId);
    const expires = iso(new Date(this.now().getTime() + 3600_000));
    return {
      ...ok(
        {
          token: this.token,
          expires_at: expires,
          permissions: { contents: 'write', pull_requests: 'write' },
          repository_selection: 'selected',
        },
        201,
      ),
      free: true,
    };
  }
  checksOf(sha: string): Check[] {
    return this.checks.get(sha) ?? [];
  }
}

/** Starts a fake on 127.0.0.1 (free port). Close it with `close()`. */
export async function startGitHubFake(options: GitHubFakeOptions = {}): Promise<GitHubFake> {
  return new GitHubFake(options).start();
}
