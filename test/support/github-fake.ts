/**
 * A stateful fake of GitHub (REST API + Git smart HTTP) over real bare Git repositories.
 *
 *   const gh = await startGitHubFake({ token: 't0ken' });   // 127.0.0.1, free port
 *   const bare = await gh.createRepo('acme', 'shop');        // bare repo, default branch main
 *   const sha = await gh.commitFiles('acme', 'shop', 'main', { 'app.yaml': 'v: 1\n' }, 'init');
 *   const octokit = new Octokit({ auth: gh.token, baseUrl: gh.url });
 *   await simpleGit().clone(gh.gitUrl('acme', 'shop'), dir);
 *   await gh.close();
 *
 * Test controls:
 * - `createRepo(owner, repo, { defaultBranch? })` → bare repo path (seed it by pushing there, or:)
 * - `commitFiles(owner, repo, branch, files, message?, from?)` → sha: a commit "pushed by
 *   someone else" (content string, or null to delete a file)
 * - `refSha(owner, repo, 'main' | 'refs/tags/x')` → sha | null
 * - `setChecks(sha, 'success' | 'failure' | 'pending' | 'none', { kind?: 'check-run' | 'status', name? })`
 * - `failNext(n, status, headers?, message?)`: the next n API requests fail (403 says "secondary
 *   rate limit" unless told otherwise; pass `{ 'retry-after': '1' }` to ask for a wait)
 * - `calls.total`, `calls.rateLimited` (requests that consumed rate limit), `requests` (method,
 *   path, status of each API request), `resetCounters()`, `installations` (App token requests)
 *
 * REST endpoints (GitHub's paths and response shapes, checked against `@octokit/openapi` by
 * test/integration/github-fake.test.ts): repos, git refs (list, matching, get, create, update
 * fast-forward only unless `force`), git commits and annotated tags (real objects made with
 * `git commit-tree` / `git mktag`), pulls (create, list, get, close, merge with a real merge
 * commit and the `sha` head check), check-runs and combined status, branches, commits list,
 * rate_limit, and App installation tokens. Requests need `Authorization: token|Bearer <token>`;
 * an App JWT whose `iss` is `appId` gets that token from POST /app/installations/{id}/access_tokens.
 * Every GET answers with an ETag and X-Poll-Interval; `If-None-Match` gives a 304 that consumes
 * no rate limit. Paths are decoded, so refs may come as `heads%2Fmain` or `heads/main`.
 *
 * Git smart HTTP at `/{owner}/{repo}.git/…` runs `git http-backend`: clone and fetch need no
 * credentials; push needs basic auth whose password is the token (else 401, as GitHub).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type FakeCheckState = 'success' | 'failure' | 'pending' | 'none';
export interface GitHubFakeOptions {
  /** Token clients must send (default 'test-token'). */
  token?: string;
  /** GitHub App id whose JWTs may create installation tokens (default '1'); they get `token`. */
  appId?: string;
  /** Seconds sent as X-Poll-Interval on GETs (default 60). */
  pollInterval?: number;
  /** Core rate limit per "hour" (default 5000); at 0 requests get 403. */
  rateLimit?: number;
  now?: () => Date;
}
export interface FakeRequest {
  method: string;
  path: string;
  status: number;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Does not consume rate limit (auth failures, injected faults, /rate_limit). */
  free?: boolean;
}
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
interface PullState {
  number: number;
  id: number;
  title: string;
  body: string | null;
  base: string;
  head: string;
  state: 'open' | 'closed';
  headSha: string | null; // frozen once closed
  mergedSha: string | null;
  mergedAt: string | null;
  closedAt: string | null;
  createdAt: string;
  updatedAt: string;
}
interface RepoState {
  owner: string;
  name: string;
  id: number;
  dir: string;
  defaultBranch: string;
  createdAt: string;
  pulls: PullState[];
}
interface Check {
  kind: 'check-run' | 'status';
  name: string;
  state: Exclude<FakeCheckState, 'none'>;
  id: number;
  at: string;
}
interface Ctx {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  repo: RepoState;
}
type Handler = (fake: GitHubFake, ctx: Ctx) => Promise<Reply>;

const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const BOT = { name: 'conveyor-bot', email: 'bot@users.noreply.github.test' };
const SHA = /^[0-9a-f]{40}$/;

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}
function run(args: string[], opts: { cwd?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: { ...GIT_ENV, ...opts.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.on('error', () => {}); // git may exit before reading its input
    child.stdin.end(opts.input ?? '');
  });
}
/** git in `dir`; stdout trimmed; throws on a non-zero exit. */
async function git(dir: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(args, { cwd: dir, input, env });
  if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr.trim()}`);
  return r.stdout.toString().trim();
}
/** git in `dir`; null instead of throwing. */
async function gitMaybe(dir: string, args: string[]): Promise<string | null> {
  const r = await run(args, { cwd: dir });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}
/** Raw (untrimmed) content of an object of the given type, or null. */
async function catFile(dir: string, type: string, sha: string): Promise<string | null> {
  const r = await run(['cat-file', type, sha], { cwd: dir });
  return r.code === 0 ? r.stdout.toString() : null;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const nodeId = (kind: string, id: number | string) => Buffer.from(`${kind}:${id}`).toString('base64');
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

interface Person {
  name: string;
  email: string;
  date: string;
}
interface GitCommitObj {
  sha: string;
  tree: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
}
function parsePerson(line: string): Person {
  const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!m) return { name: line, email: '', date: iso(new Date(0)) };
  return { name: m[1], email: m[2], date: iso(new Date(Number(m[3]) * 1000)) };
}
function parseObject(raw: string): { headers: [string, string][]; message: string } {
  const split = raw.indexOf('\n\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const headers: [string, string][] = [];
  for (const line of head.split('\n')) {
    if (line.startsWith(' ') && headers.length) headers[headers.length - 1][1] += `\n${line.slice(1)}`;
    else {
      const sp = line.indexOf(' ');
      headers.push([line.slice(0, sp), line.slice(sp + 1)]);
    }
  }
  return { headers, message: split < 0 ? '' : raw.slice(split + 2) };
}
const header = (h: [string, string][], k: string) => h.find(([key]) => key === k)?.[1] ?? '';
const gitPersonEnv = (
  role: 'AUTHOR' | 'COMMITTER',
  p: { name?: unknown; email?: unknown; date?: unknown },
  now: Date,
) => ({
  [`GIT_${role}_NAME`]: typeof p.name === 'string' ? p.name : BOT.name,
  [`GIT_${role}_EMAIL`]: typeof p.email === 'string' ? p.email : BOT.email,
  [`GIT_${role}_DATE`]: typeof p.date === 'string' ? p.date : now.toISOString(),
});

// ----------------------------------------------------------------------------- JSON shapes

const REPO_URLS: [string, string][] = [
  ['archive_url', '/{archive_format}{/ref}'],
  ['assignees_url', '/assignees{/user}'],
  ['blobs_url', '/git/blobs{/sha}'],
  ['branches_url', '/branches{/branch}'],
  ['collaborators_url', '/collaborators{/collaborator}'],
  ['comments_url', '/comments{/number}'],
  ['commits_url', '/commits{/sha}'],
  ['compare_url', '/compare/{base}...{head}'],
  ['contents_url', '/contents/{+path}'],
  ['contributors_url', '/contributors'],
  ['deployments_url', '/deployments'],
  ['downloads_url', '/downloads'],
  ['events_url', '/events'],
  ['forks_url', '/forks'],
  ['git_commits_url', '/git/commits{/sha}'],
  ['git_refs_url', '/git/refs{/sha}'],
  ['git_tags_url', '/git/tags{/sha}'],
  ['hooks_url', '/hooks'],
  ['issue_comment_url', '/issues/comments{/number}'],
  ['issue_events_url', '/issues/events{/number}'],
  ['issues_url', '/issues{/number}'],
  ['keys_url', '/keys{/key_id}'],
  ['labels_url', '/labels{/name}'],
  ['languages_url', '/languages'],
  ['merges_url', '/merges'],
  ['milestones_url', '/milestones{/number}'],
  ['notifications_url', '/notifications{?since,all,participating}'],
  ['pulls_url', '/pulls{/number}'],
  ['releases_url', '/releases{/id}'],
  ['stargazers_url', '/stargazers'],
  ['statuses_url', '/statuses/{sha}'],
  ['subscribers_url', '/subscribers'],
  ['subscription_url', '/subscription'],
  ['tags_url', '/tags'],
  ['teams_url', '/teams'],
  ['trees_url', '/git/trees{/sha}'],
];

// ----------------------------------------------------------------------------- the fake

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
  }[] = [];
  private readonly server: Server;
  readonly now: () => Date;
  private readonly pollInterval: number;
  private readonly rateLimit: number;
  private remaining: number;
  private nextId = 1000;
  private root = '';

  constructor(options: GitHubFakeOptions = {}) {
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
    const parent =
      existing ?? (await gitMaybe(dir, ['rev-parse', '--verify', '--quiet', `${start}^{commit}`]));
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
    const sha = await git(
      dir,
      ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message],
      undefined,
      {
        ...gitPersonEnv('AUTHOR', { name: 'Dev', email: 'dev@example.test' }, now),
        ...gitPersonEnv('COMMITTER', { name: 'Dev', email: 'dev@example.test' }, now),
      },
    );
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
  setChecks(
    sha: string,
    state: FakeCheckState,
    options: { name?: string; kind?: 'check-run' | 'status' } = {},
  ): void {
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

  /** The next `n` API requests answer `status` (403 + message "secondary rate limit" by default for 403). */
  failNext(n: number, status: number, headers: Record<string, string> = {}, message?: string): void {
    this.faults.push({ left: n, status, headers, message });
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

  repoOrThrow(owner: string, repo: string): RepoState {
    const state = this.repos.get(`${owner}/${repo}`);
    if (!state) throw new HttpError(404, 'Not Found');
    return state;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (/^\/[^/]+\/[^/]+\.git\//.test(url.pathname)) return this.serveGit(req, res, url);
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
    const installation = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
    if (installation && req.method === 'POST') return this.installationToken(auth, installation[1]);
    if (auth !== this.token) return { ...this.errorReply(401, 'Bad credentials'), free: true };
    const fault = this.faults[0];
    if (fault) {
      if (--fault.left <= 0) this.faults.shift();
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
      const repo = params.owner
        ? this.repoOrThrow(params.owner, params.repo)
        : (undefined as unknown as RepoState);
      return handler(this, { params, query: url.searchParams, body, repo });
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

  /** Git smart HTTP through `git http-backend` (CGI). */
  private async serveGit(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const basic = /^basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [user, pass] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    const pushing =
      url.pathname.endsWith('/git-receive-pack') || url.searchParams.get('service') === 'git-receive-pack';
    if (pushing && pass !== this.token) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"', 'content-type': 'text/plain' });
      res.end('Invalid username or token.');
      return;
    }
    const env: NodeJS.ProcessEnv = {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      REMOTE_ADDR: '127.0.0.1',
      ...(pass === this.token ? { REMOTE_USER: user || 'git' } : {}),
    };
    const child = spawn('git', ['http-backend'], { env });
    child.stdin.on('error', () => {});
    req.pipe(child.stdin);
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.resume();
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    const raw = Buffer.concat(out);
    const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
    const sep = raw.indexOf('\r\n\r\n') >= 0 ? 4 : 2;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of raw.subarray(0, Math.max(end, 0)).toString().split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const key = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      if (key === 'status') status = Number.parseInt(value, 10);
      else headers[key] = value;
    }
    res.writeHead(status, headers);
    res.end(end < 0 ? raw : raw.subarray(end + sep));
  }

  // --------------------------------------------------------------------------- JSON builders

  user(login = BOT.name) {
    const u = `${this.url}/users/${login}`;
    return {
      login,
      id: 1,
      node_id: nodeId('User', login),
      avatar_url: `${this.url}/avatars/${login}`,
      gravatar_id: '',
      url: u,
      html_url: `${this.url}/${login}`,
      followers_url: `${u}/followers`,
      following_url: `${u}/following{/other_user}`,
      gists_url: `${u}/gists{/gist_id}`,
      starred_url: `${u}/starred{/owner}{/repo}`,
      subscriptions_url: `${u}/subscriptions`,
      organizations_url: `${u}/orgs`,
      repos_url: `${u}/repos`,
      events_url: `${u}/events{/privacy}`,
      received_events_url: `${u}/received_events`,
      type: 'User',
      site_admin: false,
    };
  }

  apiUrl(r: RepoState, suffix = ''): string {
    return `${this.url}/repos/${r.owner}/${r.name}${suffix}`;
  }
  htmlUrl(r: RepoState, suffix = ''): string {
    return `${this.url}/${r.owner}/${r.name}${suffix}`;
  }

  minimalRepo(r: RepoState) {
    const base = this.apiUrl(r);
    return {
      id: r.id,
      node_id: nodeId('Repository', r.id),
      name: r.name,
      full_name: `${r.owner}/${r.name}`,
      owner: this.user(r.owner),
      private: true,
      html_url: this.htmlUrl(r),
      description: null,
      fork: false,
      url: base,
      ...Object.fromEntries(REPO_URLS.map(([k, v]) => [k, base + v])),
    };
  }

  fullRepo(r: RepoState) {
    const host = new URL(this.url).host;
    return {
      ...this.minimalRepo(r),
      clone_url: this.gitUrl(r.owner, r.name),
      git_url: `git://${host}/${r.owner}/${r.name}.git`,
      ssh_url: `git@${host}:${r.owner}/${r.name}.git`,
      svn_url: this.htmlUrl(r),
      mirror_url: null,
      homepage: null,
      language: null,
      forks_count: 0,
      forks: 0,
      stargazers_count: 0,
      watchers_count: 0,
      watchers: 0,
      size: 0,
      default_branch: r.defaultBranch,
      open_issues_count: r.pulls.filter((p) => p.state === 'open').length,
      open_issues: r.pulls.filter((p) => p.state === 'open').length,
      is_template: false,
      topics: [],
      has_issues: true,
      has_projects: false,
      has_wiki: false,
      has_pages: false,
      has_downloads: true,
      has_discussions: false,
      archived: false,
      disabled: false,
      visibility: 'private',
      license: null,
      pushed_at: r.createdAt,
      created_at: r.createdAt,
      updated_at: r.createdAt,
      permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
      allow_merge_commit: true,
      allow_squash_merge: true,
      allow_rebase_merge: false,
      allow_auto_merge: false,
      delete_branch_on_merge: false,
      network_count: 0,
      subscribers_count: 0,
    };
  }

  async readCommit(r: RepoState, sha: string): Promise<GitCommitObj | null> {
    if (!SHA.test(sha)) return null;
    const raw = await catFile(r.dir, 'commit', sha);
    if (raw === null) return null;
    const { headers, message } = parseObject(raw);
    return {
      sha,
      tree: header(headers, 'tree'),
      parents: headers.filter(([k]) => k === 'parent').map(([, v]) => v),
      author: parsePerson(header(headers, 'author')),
      committer: parsePerson(header(headers, 'committer')),
      message: message.replace(/\n$/, ''),
    };
  }

  gitCommitJson(r: RepoState, c: GitCommitObj) {
    return {
      sha: c.sha,
      node_id: nodeId('Commit', c.sha),
      url: this.apiUrl(r, `/git/commits/${c.sha}`),
      html_url: this.htmlUrl(r, `/commit/${c.sha}`),
      author: c.author,
      committer: c.committer,
      message: c.message,
      tree: { sha: c.tree, url: this.apiUrl(r, `/git/trees/${c.tree}`) },
      parents: c.parents.map((p) => ({
        sha: p,
        url: this.apiUrl(r, `/git/commits/${p}`),
        html_url: this.htmlUrl(r, `/commit/${p}`),
      })),
      verification: {
        verified: false,
        reason: 'unsigned',
        signature: null,
        payload: null,
        verified_at: null,
      },
    };
  }

  commitJson(r: RepoState, c: GitCommitObj) {
    const git = this.gitCommitJson(r, c);
    return {
      url: this.apiUrl(r, `/commits/${c.sha}`),
      sha: c.sha,
      node_id: git.node_id,
      html_url: git.html_url,
      comments_url: this.apiUrl(r, `/commits/${c.sha}/comments`),
      commit: {
        url: git.url,
        author: c.author,
        committer: c.committer,
        message: c.message,
        comment_count: 0,
        tree: git.tree,
        verification: git.verification,
      },
      author: null,
      committer: null,
      parents: c.parents.map((p) => ({
        sha: p,
        url: this.apiUrl(r, `/commits/${p}`),
        html_url: this.htmlUrl(r, `/commit/${p}`),
      })),
    };
  }

  refJson(r: RepoState, ref: string, sha: string, type: string) {
    const short = ref.replace(/^refs\//, '');
    return {
      ref,
      node_id: nodeId('Ref', `${r.id}:${ref}`),
      url: this.apiUrl(r, `/git/refs/${short}`),
      object: { type, sha, url: this.apiUrl(r, `/git/${type}s/${sha}`) },
    };
  }

  async pullJson(r: RepoState, p: PullState, full: boolean) {
    const headSha =
      p.headSha ??
      (await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.head}`])) ??
      '';
    const baseSha =
      (await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.base}`])) ?? '';
    const api = this.apiUrl(r, `/pulls/${p.number}`);
    const issue = this.apiUrl(r, `/issues/${p.number}`);
    const html = this.htmlUrl(r, `/pull/${p.number}`);
    const side = (ref: string, sha: string) => ({
      label: `${r.owner}:${ref}`,
      ref,
      sha,
      user: this.user(r.owner),
      repo: this.fullRepo(r),
    });
    const simple = {
      url: api,
      id: p.id,
      node_id: nodeId('PullRequest', p.id),
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: issue,
      commits_url: `${api}/commits`,
      review_comments_url: `${api}/comments`,
      review_comment_url: this.apiUrl(r, '/pulls/comments{/number}'),
      comments_url: `${issue}/comments`,
      statuses_url: this.apiUrl(r, `/statuses/${headSha}`),
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      user: this.user(),
      body: p.body,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
      closed_at: p.closedAt,
      merged_at: p.mergedAt,
      merge_commit_sha: p.mergedSha,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: side(p.head, headSha),
      base: side(p.base, baseSha),
      _links: {
        self: { href: api },
        html: { href: html },
        issue: { href: issue },
        comments: { href: `${issue}/comments` },
        review_comments: { href: `${api}/comments` },
        review_comment: { href: this.apiUrl(r, '/pulls/comments{/number}') },
        commits: { href: `${api}/commits` },
        statuses: { href: this.apiUrl(r, `/statuses/${headSha}`) },
      },
      author_association: 'OWNER',
      auto_merge: null,
      draft: false,
    };
    if (!full) return simple;
    const open = p.state === 'open';
    const mergeable = open
      ? (await run(['merge-tree', '--write-tree', baseSha, headSha], { cwd: r.dir })).code === 0
      : null;
    const counts = (await gitMaybe(r.dir, ['rev-list', '--count', `${baseSha}..${headSha}`])) ?? '0';
    const numstat = (await gitMaybe(r.dir, ['diff', '--numstat', `${baseSha}...${headSha}`])) ?? '';
    const rows = numstat ? numstat.split('\n').map((l) => l.split('\t').map((n) => Number(n) || 0)) : [];
    return {
      ...simple,
      merged: p.mergedSha !== null,
      mergeable,
      rebaseable: mergeable,
      mergeable_state: mergeable === null ? 'unknown' : mergeable ? 'clean' : 'dirty',
      merged_by: p.mergedSha ? this.user() : null,
      comments: 0,
      review_comments: 0,
      maintainer_can_modify: false,
      commits: open ? Number(counts) : 0,
      additions: rows.reduce((a, x) => a + x[0], 0),
      deletions: rows.reduce((a, x) => a + x[1], 0),
      changed_files: rows.length,
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

// ----------------------------------------------------------------------------- routing

function match(pattern: string, segments: string[]): Record<string, string> | null {
  const parts = pattern.split('/').slice(1);
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.startsWith('*')) {
      if (i >= segments.length) return null;
      params[part.slice(1)] = segments.slice(i).join('/');
      return params;
    }
    if (i >= segments.length) return null;
    if (part.startsWith(':')) params[part.slice(1)] = segments[i];
    else if (part !== segments[i]) return null;
  }
  return parts.length === segments.length ? params : null;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'Problems parsing JSON');
  }
}

const str = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || v === '') {
    throw new HttpError(422, 'Invalid request.', {
      errors: [{ resource: 'Request', field, code: 'missing_field' }],
    });
  }
  return v;
};
const notFound = () => new HttpError(404, 'Not Found');
const ok = (body: unknown, status = 200): Reply => ({ status, body });

async function commitOr404(fake: GitHubFake, r: RepoState, ref: string): Promise<GitCommitObj> {
  if (ref.startsWith('-')) throw notFound();
  const sha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  const c = sha ? await fake.readCommit(r, sha) : null;
  if (!c) throw new HttpError(422, `No commit found for SHA: ${ref}`);
  return c;
}

/** Refs under `prefix` (a full ref matches itself), as GitHub's git-ref objects. */
async function listRefs(fake: GitHubFake, r: RepoState, prefix: string) {
  const out = await git(r.dir, ['for-each-ref', '--format=%(refname) %(objectname) %(objecttype)', prefix]);
  const refs = out ? out.split('\n').map((l) => l.split(' ')) : [];
  return refs.map(([ref, sha, type]) => fake.refJson(r, ref, sha, type));
}

async function getRef(fake: GitHubFake, { repo: r, params }: Ctx): Promise<Reply> {
  const ref = `refs/${params.ref}`;
  const found = params.ref.includes('/')
    ? (await listRefs(fake, r, ref)).find((x) => x.ref === ref)
    : undefined;
  if (!found) throw notFound();
  return ok(found);
}

async function createRef(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const ref = str(body.ref, 'ref');
  const sha = str(body.sha, 'sha');
  const valid = ref.split('/').length >= 3 && (await run(['check-ref-format', ref])).code === 0;
  if (!ref.startsWith('refs/') || !valid) throw new HttpError(422, 'Reference name is not valid');
  const type = SHA.test(sha) ? await gitMaybe(r.dir, ['cat-file', '-t', sha]) : null;
  if (type === null) throw new HttpError(422, 'Object does not exist');
  const done = await run(['update-ref', ref, sha, ''], { cwd: r.dir });
  if (done.code !== 0) throw new HttpError(422, 'Reference already exists');
  return ok(fake.refJson(r, ref, sha, type), 201);
}

async function updateRef(fake: GitHubFake, { repo: r, params, body }: Ctx): Promise<Reply> {
  const ref = `refs/${params.ref}`;
  const sha = str(body.sha, 'sha');
  const old = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', ref]);
  if (!old) throw new HttpError(422, 'Reference does not exist');
  const type = SHA.test(sha) ? await gitMaybe(r.dir, ['cat-file', '-t', sha]) : null;
  if (type === null) throw new HttpError(422, 'Object does not exist');
  if (
    body.force !== true &&
    (await run(['merge-base', '--is-ancestor', old, sha], { cwd: r.dir })).code !== 0
  ) {
    throw new HttpError(422, 'Update is not a fast forward');
  }
  if ((await run(['update-ref', ref, sha, old], { cwd: r.dir })).code !== 0) {
    throw new HttpError(422, 'Update is not a fast forward');
  }
  return ok(fake.refJson(r, ref, sha, type));
}

async function getGitCommit(fake: GitHubFake, { repo: r, params }: Ctx): Promise<Reply> {
  const c = await fake.readCommit(r, params.sha);
  if (!c) throw notFound();
  return ok(fake.gitCommitJson(r, c));
}

async function createGitCommit(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const message = typeof body.message === 'string' ? body.message : str(body.message, 'message');
  const tree = str(body.tree, 'tree');
  const parents = Array.isArray(body.parents) ? body.parents.map((p) => String(p)) : [];
  if (!SHA.test(tree) || (await gitMaybe(r.dir, ['cat-file', '-t', tree])) !== 'tree') {
    throw new HttpError(422, 'Tree SHA does not exist');
  }
  for (const p of parents) {
    if (!SHA.test(p) || (await gitMaybe(r.dir, ['cat-file', '-t', p])) !== 'commit') {
      throw new HttpError(422, 'Parent SHA does not exist or is not a commit object');
    }
  }
  const now = fake.now();
  const author = (body.author ?? {}) as Record<string, unknown>;
  const committer = (body.committer ?? body.author ?? {}) as Record<string, unknown>;
  const sha = await git(
    r.dir,
    ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-F', '-'],
    message,
    {
      ...gitPersonEnv('AUTHOR', author, now),
      ...gitPersonEnv('COMMITTER', committer, now),
    },
  );
  return ok(fake.gitCommitJson(r, (await fake.readCommit(r, sha))!), 201);
}

async function tagJson(fake: GitHubFake, r: RepoState, sha: string) {
  const raw = SHA.test(sha) ? await catFile(r.dir, 'tag', sha) : null;
  if (raw === null) throw notFound();
  const { headers, message } = parseObject(raw);
  const target = header(headers, 'object');
  const type = header(headers, 'type');
  return {
    node_id: nodeId('Tag', sha),
    tag: header(headers, 'tag'),
    sha,
    url: fake.apiUrl(r, `/git/tags/${sha}`),
    message,
    tagger: parsePerson(header(headers, 'tagger')),
    object: { type, sha: target, url: fake.apiUrl(r, `/git/${type}s/${target}`) },
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  };
}

async function createGitTag(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const tag = str(body.tag, 'tag');
  const object = str(body.object, 'object');
  const type = typeof body.type === 'string' ? body.type : 'commit';
  const message = typeof body.message === 'string' ? body.message : '';
  if ((await run(['check-ref-format', `refs/tags/${tag}`])).code !== 0)
    throw new HttpError(422, 'Invalid tag name');
  if (!SHA.test(object) || (await gitMaybe(r.dir, ['cat-file', '-t', object])) !== type) {
    throw new HttpError(422, 'Object does not exist');
  }
  const t = (body.tagger ?? {}) as Record<string, unknown>;
  const when = typeof t.date === 'string' ? new Date(t.date) : new Date();
  const tagger = `${typeof t.name === 'string' ? t.name : BOT.name} <${typeof t.email === 'string' ? t.email : BOT.email}>`;
  const text = `object ${object}\ntype ${type}\ntag ${tag}\ntagger ${tagger} ${Math.floor(when.getTime() / 1000)} +0000\n\n${message}${message.endsWith('\n') ? '' : '\n'}`;
  const sha = await git(r.dir, ['mktag'], text);
  return ok(await tagJson(fake, r, sha), 201);
}

async function findPull(r: RepoState, n: string): Promise<PullState> {
  const p = r.pulls.find((x) => String(x.number) === n);
  if (!p) throw notFound();
  return p;
}

async function createPull(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const title = str(body.title, 'title');
  const head = str(body.head, 'head').replace(/^[^:]+:/, '');
  const base = str(body.base, 'base');
  const invalid = (field: string) =>
    new HttpError(422, 'Validation Failed', {
      errors: [{ resource: 'PullRequest', field, code: 'invalid' }],
    });
  const baseSha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${base}`]);
  const headSha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${head}`]);
  if (!baseSha) throw invalid('base');
  if (!headSha) throw invalid('head');
  if (r.pulls.some((p) => p.state === 'open' && p.head === head && p.base === base)) {
    throw new HttpError(422, 'Validation Failed', {
      errors: [
        {
          resource: 'PullRequest',
          code: 'custom',
          message: `A pull request already exists for ${r.owner}:${head}.`,
        },
      ],
    });
  }
  if ((await run(['merge-base', '--is-ancestor', headSha, baseSha], { cwd: r.dir })).code === 0) {
    throw new HttpError(422, 'Validation Failed', {
      errors: [
        { resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` },
      ],
    });
  }
  const at = iso(fake.now());
  const p: PullState = {
    number: r.pulls.length + 1,
    id: fake.id(),
    title,
    body: typeof body.body === 'string' ? body.body : null,
    base,
    head,
    state: 'open',
    headSha: null,
    mergedSha: null,
    mergedAt: null,
    closedAt: null,
    createdAt: at,
    updatedAt: at,
  };
  r.pulls.push(p);
  return ok(await fake.pullJson(r, p, true), 201);
}

async function listPulls(fake: GitHubFake, { repo: r, query }: Ctx): Promise<Reply> {
  const state = query.get('state') ?? 'open';
  const head = query.get('head')?.replace(/^[^:]+:/, '');
  const base = query.get('base');
  const found = r.pulls.filter(
    (p) => (state === 'all' || p.state === state) && (!head || p.head === head) && (!base || p.base === base),
  );
  return ok(await Promise.all(found.reverse().map((p) => fake.pullJson(r, p, false))));
}

async function updatePull(fake: GitHubFake, { repo: r, params, body }: Ctx): Promise<Reply> {
  const p = await findPull(r, params.number);
  if (typeof body.title === 'string') p.title = body.title;
  if (typeof body.body === 'string') p.body = body.body;
  if (body.state === 'closed' && p.state === 'open') {
    p.headSha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.head}`]);
    p.state = 'closed';
    p.closedAt = iso(fake.now());
  } else if (body.state === 'open' && p.state === 'closed' && !p.mergedSha) {
    p.state = 'open';
    p.headSha = null;
    p.closedAt = null;
  }
  p.updatedAt = iso(fake.now());
  return ok(await fake.pullJson(r, p, true));
}

async function mergePull(fake: GitHubFake, { repo: r, params, body }: Ctx): Promise<Reply> {
  const p = await findPull(r, params.number);
  if (p.state !== 'open') throw new HttpError(405, 'Pull Request is not mergeable');
  const headSha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.head}`]);
  const baseSha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.base}`]);
  if (!headSha || !baseSha) throw new HttpError(405, 'Pull Request is not mergeable');
  if (typeof body.sha === 'string' && body.sha !== headSha) {
    throw new HttpError(409, 'Head branch was modified. Review and try the merge again.');
  }
  const tree = await run(['merge-tree', '--write-tree', baseSha, headSha], { cwd: r.dir });
  if (tree.code !== 0) throw new HttpError(405, 'Pull Request is not mergeable');
  const squash = body.merge_method === 'squash';
  const title =
    typeof body.commit_title === 'string'
      ? body.commit_title
      : squash
        ? `${p.title} (#${p.number})`
        : `Merge pull request #${p.number} from ${r.owner}/${p.head}`;
  const message =
    typeof body.commit_message === 'string' && body.commit_message
      ? `${title}\n\n${body.commit_message}`
      : title;
  const now = fake.now();
  const parents = squash ? ['-p', baseSha] : ['-p', baseSha, '-p', headSha];
  const sha = await git(
    r.dir,
    ['commit-tree', tree.stdout.toString().split('\n')[0], ...parents, '-F', '-'],
    message,
    {
      ...gitPersonEnv('AUTHOR', {}, now),
      ...gitPersonEnv('COMMITTER', {}, now),
    },
  );
  if ((await run(['update-ref', `refs/heads/${p.base}`, sha, baseSha], { cwd: r.dir })).code !== 0) {
    throw new HttpError(405, 'Base branch was modified. Review and try the merge again.');
  }
  Object.assign(p, {
    state: 'closed',
    headSha,
    mergedSha: sha,
    mergedAt: iso(now),
    closedAt: iso(now),
    updatedAt: iso(now),
  });
  return ok({ sha, merged: true, message: 'Pull Request successfully merged' });
}

async function listCheckRuns(fake: GitHubFake, { repo: r, params }: Ctx): Promise<Reply> {
  const c = await commitOr404(fake, r, params.ref);
  const runs = fake.checksOf(c.sha).filter((x) => x.kind === 'check-run');
  const app = {
    id: 15368,
    slug: 'github-actions',
    node_id: nodeId('App', 15368),
    owner: fake.user('github'),
    name: 'GitHub Actions',
    description: 'Automate your workflow',
    external_url: 'https://github.com/features/actions',
    html_url: 'https://github.com/apps/github-actions',
    created_at: '2018-07-30T09:30:17Z',
    updated_at: '2024-04-10T20:33:16Z',
    permissions: { checks: 'write' },
    events: ['check_run'],
  };
  return ok({
    total_count: runs.length,
    check_runs: runs.map((x) => ({
      id: x.id,
      node_id: nodeId('CheckRun', x.id),
      head_sha: c.sha,
      external_id: String(x.id),
      name: x.name,
      url: fake.apiUrl(r, `/check-runs/${x.id}`),
      html_url: fake.htmlUrl(r, `/runs/${x.id}`),
      details_url: fake.htmlUrl(r, `/runs/${x.id}`),
      status: x.state === 'pending' ? 'in_progress' : 'completed',
      conclusion: x.state === 'pending' ? null : x.state,
      started_at: x.at,
      completed_at: x.state === 'pending' ? null : x.at,
      output: {
        title: null,
        summary: null,
        text: null,
        annotations_count: 0,
        annotations_url: fake.apiUrl(r, `/check-runs/${x.id}/annotations`),
      },
      check_suite: { id: x.id + 1 },
      app,
      pull_requests: [],
    })),
  });
}

async function combinedStatus(fake: GitHubFake, { repo: r, params }: Ctx): Promise<Reply> {
  const c = await commitOr404(fake, r, params.ref);
  const statuses = fake.checksOf(c.sha).filter((x) => x.kind === 'status');
  const state = statuses.some((s) => s.state === 'failure')
    ? 'failure'
    : statuses.length > 0 && statuses.every((s) => s.state === 'success')
      ? 'success'
      : 'pending';
  return ok({
    state,
    sha: c.sha,
    total_count: statuses.length,
    repository: fake.minimalRepo(r),
    commit_url: fake.apiUrl(r, `/commits/${c.sha}`),
    url: fake.apiUrl(r, `/commits/${c.sha}/status`),
    statuses: statuses.map((s) => ({
      id: s.id,
      node_id: nodeId('StatusContext', s.id),
      url: fake.apiUrl(r, `/statuses/${c.sha}`),
      state: s.state,
      description: null,
      target_url: null,
      context: s.name,
      avatar_url: null,
      created_at: s.at,
      updated_at: s.at,
    })),
  });
}

async function getBranch(fake: GitHubFake, { repo: r, params }: Ctx): Promise<Reply> {
  const sha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${params.branch}`]);
  const c = sha ? await fake.readCommit(r, sha) : null;
  if (!c) throw new HttpError(404, 'Branch not found');
  return ok({
    name: params.branch,
    commit: fake.commitJson(r, c),
    protected: false,
    _links: {
      self: fake.apiUrl(r, `/branches/${params.branch}`),
      html: fake.htmlUrl(r, `/tree/${params.branch}`),
    },
    protection: {
      enabled: false,
      required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] },
    },
    protection_url: fake.apiUrl(r, `/branches/${params.branch}/protection`),
  });
}

async function listCommits(fake: GitHubFake, { repo: r, query }: Ctx): Promise<Reply> {
  const ref = query.get('sha') ?? r.defaultBranch;
  const perPage = Math.min(Number(query.get('per_page') ?? 30) || 30, 100);
  const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
  if (ref.startsWith('-')) throw notFound();
  const head = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!head) throw notFound();
  const out = await git(r.dir, [
    'rev-list',
    `--max-count=${perPage}`,
    `--skip=${(page - 1) * perPage}`,
    head,
  ]);
  const shas = out ? out.split('\n') : [];
  const commits = await Promise.all(shas.map((s) => fake.readCommit(r, s)));
  return ok(commits.map((c) => fake.commitJson(r, c!)));
}

async function getRateLimit(fake: GitHubFake): Promise<Reply> {
  const h = fake.rateHeaders();
  const core = {
    limit: Number(h['x-ratelimit-limit']),
    remaining: Number(h['x-ratelimit-remaining']),
    reset: Number(h['x-ratelimit-reset']),
    used: Number(h['x-ratelimit-used']),
  };
  const search = { limit: 30, remaining: 30, reset: core.reset, used: 0 };
  return { ...ok({ resources: { core, search }, rate: core }), free: true };
}

const ROUTES: [string, string, Handler][] = [
  ['GET', '/rate_limit', getRateLimit],
  ['GET', '/repos/:owner/:repo', async (f, { repo }) => ok(f.fullRepo(repo))],
  ['GET', '/repos/:owner/:repo/git/refs', async (f, { repo }) => ok(await listRefs(f, repo, 'refs/'))],
  [
    'GET',
    '/repos/:owner/:repo/git/matching-refs/*ref',
    async (f, { repo, params }) =>
      ok((await listRefs(f, repo, 'refs/')).filter((x) => x.ref.startsWith(`refs/${params.ref}`))),
  ],
  ['POST', '/repos/:owner/:repo/git/refs', createRef],
  ['GET', '/repos/:owner/:repo/git/ref/*ref', getRef],
  ['PATCH', '/repos/:owner/:repo/git/refs/*ref', updateRef],
  ['GET', '/repos/:owner/:repo/git/commits/:sha', getGitCommit],
  ['POST', '/repos/:owner/:repo/git/commits', createGitCommit],
  [
    'GET',
    '/repos/:owner/:repo/git/tags/:sha',
    async (f, { repo, params }) => ok(await tagJson(f, repo, params.sha)),
  ],
  ['POST', '/repos/:owner/:repo/git/tags', createGitTag],
  ['GET', '/repos/:owner/:repo/pulls', listPulls],
  ['POST', '/repos/:owner/:repo/pulls', createPull],
  [
    'GET',
    '/repos/:owner/:repo/pulls/:number',
    async (f, { repo, params }) => ok(await f.pullJson(repo, await findPull(repo, params.number), true)),
  ],
  ['PATCH', '/repos/:owner/:repo/pulls/:number', updatePull],
  ['PUT', '/repos/:owner/:repo/pulls/:number/merge', mergePull],
  ['GET', '/repos/:owner/:repo/commits/:ref/check-runs', listCheckRuns],
  ['GET', '/repos/:owner/:repo/commits/:ref/status', combinedStatus],
  ['GET', '/repos/:owner/:repo/branches/*branch', getBranch],
  ['GET', '/repos/:owner/:repo/commits', listCommits],
];
