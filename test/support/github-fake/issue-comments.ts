/**
 * Comments on pull requests (GitHub's issue comments) in the GitHub fake: create, list, edit.
 * A comment on a number that is no pull request of the repository answers 404. People's own
 * comments (someone typing `/conveyor approve`) are added with `addPersonComment`; reactions on a
 * comment (`POST …/issues/comments/{id}/reactions`) are kept on it.
 */
import { iso, nodeId } from './git-plumbing.js';
import { type Ctx, HttpError, notFound, ok, type Reply, str } from './http.js';
import { apiUrl, htmlUrl, user } from './json.js';
import type { GitHubFake } from './server.js';
import type { RepoState } from './state.js';

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  createdAt: string;
  updatedAt: string;
  /** Bodies it had before each edit, oldest first. */
  edits: string[];
  /** Who wrote it: a person's login; absent for the token's own comments. */
  login?: string;
  reactions: FakeReaction[];
}

export interface FakeReaction {
  id: number;
  content: string;
  createdAt: string;
}

/** The reactions GitHub accepts (`reaction-rollup` in the REST description). */
const REACTIONS = new Set(['+1', '-1', 'laugh', 'confused', 'heart', 'hooray', 'rocket', 'eyes']);

const commentsOf = new WeakMap<RepoState, FakeComment[]>();

function stored(r: RepoState): FakeComment[] {
  let list = commentsOf.get(r);
  if (!list) {
    list = [];
    commentsOf.set(r, list);
  }
  return list;
}

export function pullRequestComments(fake: GitHubFake, owner: string, repo: string, number?: number): FakeComment[] {
  return stored(fake.repoOrThrow(owner, repo)).filter((c) => number === undefined || c.issue === number);
}

function commentJson(fake: GitHubFake, r: RepoState, c: FakeComment) {
  return {
    id: c.id,
    node_id: nodeId('IssueComment', c.id),
    url: apiUrl(fake, r, `/issues/comments/${c.id}`),
    html_url: htmlUrl(fake, r, `/pull/${c.issue}#issuecomment-${c.id}`),
    body: c.body,
    user: user(fake, c.login),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    issue_url: apiUrl(fake, r, `/issues/${c.issue}`),
    author_association: 'NONE',
  };
}

function body(b: Record<string, unknown>): string {
  const text = str(b.body, 'body');
  if (text.length > 65_536)
    throw new HttpError(422, 'Validation Failed', { errors: [{ field: 'body', code: 'too_long' }] });
  return text;
}

export async function createComment(fake: GitHubFake, { repo: r, params, body: b }: Ctx<'number'>): Promise<Reply> {
  const number = Number(params.number);
  if (!r.pulls.some((p) => p.number === number)) throw notFound();
  const at = iso(fake.now());
  const c: FakeComment = {
    id: fake.id(),
    issue: number,
    body: body(b),

    createdAt: at,
    updatedAt: at,
    edits: [],
    reactions: [],
  };
  stored(r).push(c);
  return ok(commentJson(fake, r, c), 201);
}

/** A comment a person wrote on a pull request (a test control); returns it as stored. */
export function addPersonComment(
  fake: GitHubFake,
  owner: string,
  repo: string,
  number: number,
  login: string,
  text: string,
): FakeComment {
  const r = fake.repoOrThrow(owner, repo);
  if (!r.pulls.some((p) => p.number === number)) throw new Error(`no pull request #${number} in ${owner}/${repo}`);
  const at = iso(fake.now());
  const c: FakeComment = {
    id: fake.id(),
    issue: number,
    body: text,
    createdAt: at,
    updatedAt: at,
    edits: [],
    login,
    reactions: [],
  };
  stored(r).push(c);
  return c;
}

/** The comment as GitHub shows it (REST shape), e.g. inside a webhook payload. */
export function commentAsJson(fake: GitHubFake, owner: string, repo: string, c: FakeComment) {
  return commentJson(fake, fake.repoOrThrow(owner, repo), c);
}

export async function createReaction(fake: GitHubFake, { repo: r, params, body: b }: Ctx<'id'>): Promise<Reply> {
  const c = stored(r).find((x) => String(x.id) === params.id);
  if (!c) throw notFound();
  const content = str(b.content, 'content');
  if (!REACTIONS.has(content))
    throw new HttpError(422, 'Validation Failed', {
      errors: [{ resource: 'Reaction', field: 'content', code: 'invalid' }],
    });
  const json = (x: FakeReaction) => ({
    id: x.id,
    node_id: nodeId('Reaction', x.id),
    user: user(fake),
    content: x.content,
    created_at: x.createdAt,
  });
  // The same reaction by the same user again: 200 with the one there is.
  const existing = c.reactions.find((x) => x.content === content);
  if (existing) return ok(json(existing));
  const reaction: FakeReaction = { id: fake.id(), content, createdAt: iso(fake.now()) };
  c.reactions.push(reaction);
  return ok(json(reaction), 201);
}

export async function listComments(fake: GitHubFake, { repo: r, params, query }: Ctx<'number'>): Promise<Reply> {
  const number = Number(params.number);
  if (!r.pulls.some((p) => p.number === number)) throw notFound();
  const perPage = Math.min(100, Number(query.get('per_page') ?? 30) || 30);
  return ok(
    stored(r)
      .filter((c) => c.issue === number)
      .slice(0, perPage)
      .map((c) => commentJson(fake, r, c)),
  );
}

export async function updateComment(fake: GitHubFake, { repo: r, params, body: b }: Ctx<'id'>): Promise<Reply> {
  const c = stored(r).find((x) => String(x.id) === params.id);
  if (!c) throw notFound();
  if (c.login) throw new HttpError(403, 'Resource not accessible by integration'); // someone else's comment
  c.edits.push(c.body);
  c.body = body(b);
  c.updatedAt = iso(fake.now());
  return ok(commentJson(fake, r, c));
}
