/** Pull requests in the GitHub fake: create, list, get, update, and merge with a real merge commit. */
import { git, gitMaybe, gitPersonEnv, iso, nodeId, run } from './git-plumbing.js';
import { type Ctx, HttpError, notFound, ok, type Reply, str } from './http.js';
import { apiUrl, fullRepo, htmlUrl, user } from './json.js';
import type { GitHubFake } from './server.js';
import type { PullState, RepoState } from './state.js';

/** A pull request as GitHub answers it: the simple shape in lists, the full one (`full`) alone. */
export async function pullJson(fake: GitHubFake, r: RepoState, p: PullState, full: boolean) {
  const headSha =
    p.headSha ?? (await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.head}`])) ?? '';
  const baseSha = (await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${p.base}`])) ?? '';
  const api = apiUrl(fake, r, `/pulls/${p.number}`);
  const issue = apiUrl(fake, r, `/issues/${p.number}`);
  const html = htmlUrl(fake, r, `/pull/${p.number}`);
  const side = (ref: string, sha: string) => ({
    label: `${r.owner}:${ref}`,
    ref,
    sha,
    user: user(fake, r.owner),
    repo: fullRepo(fake, r),
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
    review_comment_url: apiUrl(fake, r, '/pulls/comments{/number}'),
    comments_url: `${issue}/comments`,
    statuses_url: apiUrl(fake, r, `/statuses/${headSha}`),
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    user: user(fake),
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
      review_comment: { href: apiUrl(fake, r, '/pulls/comments{/number}') },
      commits: { href: `${api}/commits` },
      statuses: { href: apiUrl(fake, r, `/statuses/${headSha}`) },
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
    merged_by: p.mergedSha ? user(fake) : null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: open ? Number(counts) : 0,
    additions: rows.reduce((a, x) => a + (x[0] ?? 0), 0),
    deletions: rows.reduce((a, x) => a + (x[1] ?? 0), 0),
    changed_files: rows.length,
  };
}

export async function findPull(r: RepoState, n: string): Promise<PullState> {
  const p = r.pulls.find((x) => String(x.number) === n);
  if (!p) throw notFound();
  return p;
}

export async function createPull(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
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
      errors: [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }],
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
  return ok(await pullJson(fake, r, p, true), 201);
}

export async function listPulls(fake: GitHubFake, { repo: r, query }: Ctx): Promise<Reply> {
  const state = query.get('state') ?? 'open';
  const head = query.get('head')?.replace(/^[^:]+:/, '');
  const base = query.get('base');
  const found = r.pulls.filter(
    (p) => (state === 'all' || p.state === state) && (!head || p.head === head) && (!base || p.base === base),
  );
  return ok(await Promise.all(found.reverse().map((p) => pullJson(fake, r, p, false))));
}

export async function updatePull(fake: GitHubFake, { repo: r, params, body }: Ctx<'number'>): Promise<Reply> {
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
  return ok(await pullJson(fake, r, p, true));
}

export async function mergePull(fake: GitHubFake, { repo: r, params, body }: Ctx<'number'>): Promise<Reply> {
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
    typeof body.commit_message === 'string' && body.commit_message ? `${title}\n\n${body.commit_message}` : title;
  const now = fake.now();
  const parents = squash ? ['-p', baseSha] : ['-p', baseSha, '-p', headSha];
  const merged = tree.stdout.toString().split('\n')[0]!; // split yields a first element
  const sha = await git(r.dir, ['commit-tree', merged, ...parents, '-F', '-'], message, {
    ...gitPersonEnv('AUTHOR', {}, now),
    ...gitPersonEnv('COMMITTER', {}, now),
  });
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
