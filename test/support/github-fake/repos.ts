/** Repository reads in the GitHub fake: branches, the commit list, and the rate limit. */
import { git, gitMaybe, readCommit } from './git-plumbing.js';
import { type Ctx, HttpError, notFound, ok, type Reply } from './http.js';
import { apiUrl, commitJson, htmlUrl } from './json.js';
import type { GitHubFake } from './server.js';

export async function getBranch(fake: GitHubFake, { repo: r, params }: Ctx<'branch'>): Promise<Reply> {
  const sha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${params.branch}`]);
  const c = sha ? await readCommit(r, sha) : null;
  if (!c) throw new HttpError(404, 'Branch not found');
  return ok({
    name: params.branch,
    commit: commitJson(fake, r, c),
    protected: false,
    _links: {
      self: apiUrl(fake, r, `/branches/${params.branch}`),
      html: htmlUrl(fake, r, `/tree/${params.branch}`),
    },
    protection: {
      enabled: false,
      required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] },
    },
    protection_url: apiUrl(fake, r, `/branches/${params.branch}/protection`),
  });
}

export async function listCommits(fake: GitHubFake, { repo: r, query }: Ctx): Promise<Reply> {
  const ref = query.get('sha') ?? r.defaultBranch;
  const perPage = Math.min(Number(query.get('per_page') ?? 30) || 30, 100);
  const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
  if (ref.startsWith('-')) throw notFound();
  const head = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!head) throw notFound();
  const out = await git(r.dir, ['rev-list', `--max-count=${perPage}`, `--skip=${(page - 1) * perPage}`, head]);
  const shas = out ? out.split('\n') : [];
  const commits = await Promise.all(shas.map((s) => readCommit(r, s)));
  return ok(commits.map((c) => commitJson(fake, r, c!)));
}

export async function getRateLimit(fake: GitHubFake): Promise<Reply> {
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
