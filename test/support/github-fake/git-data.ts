/** The Git database API of the GitHub fake: refs, commits and annotated tags, as real git objects. */
import {
  BOT,
  catFile,
  type GitCommitObj,
  git,
  gitMaybe,
  gitPersonEnv,
  gitRead,
  header,
  nodeId,
  parseObject,
  parsePerson,
  readCommit,
  run,
  SHA,
} from './git-plumbing.js';
import { type Ctx, HttpError, notFound, ok, type Reply, str } from './http.js';
import { apiUrl, gitCommitJson, refJson } from './json.js';
import type { GitHubFake } from './server.js';
import type { RepoState } from './state.js';

export async function commitOr404(r: RepoState, ref: string): Promise<GitCommitObj> {
  if (ref.startsWith('-')) throw notFound();
  const sha = await gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  const c = sha ? await readCommit(r, sha) : null;
  if (!c) throw new HttpError(422, `No commit found for SHA: ${ref}`);
  return c;
}

/** Refs under `prefix` (a full ref matches itself), as GitHub's git-ref objects. */
export async function listRefs(fake: GitHubFake, r: RepoState, prefix: string) {
  const out = await gitRead(r.dir, ['for-each-ref', '--format=%(refname) %(objectname) %(objecttype)', prefix]);
  // three fields on every line, as the format asks
  const refs = out ? out.split('\n').map((l) => l.split(' ') as [string, string, string]) : [];
  return refs.map(([ref, sha, type]) => refJson(fake, r, ref, sha, type));
}

export async function getRef(fake: GitHubFake, { repo: r, params }: Ctx<'ref'>): Promise<Reply> {
  const ref = `refs/${params.ref}`;
  const found = params.ref.includes('/') ? (await listRefs(fake, r, ref)).find((x) => x.ref === ref) : undefined;
  if (!found) throw notFound();
  return ok(found);
}

export async function createRef(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const ref = str(body.ref, 'ref');
  const sha = str(body.sha, 'sha');
  // Independent checks at once, as one server would make them.
  const [valid, type] = await Promise.all([
    ref.split('/').length >= 3 && run(['check-ref-format', ref]).then((x) => x.code === 0),
    SHA.test(sha) ? gitMaybe(r.dir, ['cat-file', '-t', sha]) : null,
  ]);
  if (!ref.startsWith('refs/') || !valid) throw new HttpError(422, 'Reference name is not valid');
  if (type === null) throw new HttpError(422, 'Object does not exist');
  const done = await run(['update-ref', ref, sha, ''], { cwd: r.dir });
  if (done.code !== 0) throw new HttpError(422, 'Reference already exists');
  return ok(refJson(fake, r, ref, sha, type), 201);
}

export async function updateRef(fake: GitHubFake, { repo: r, params, body }: Ctx<'ref'>): Promise<Reply> {
  const ref = `refs/${params.ref}`;
  const sha = str(body.sha, 'sha');
  const [old, type] = await Promise.all([
    gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', ref]),
    SHA.test(sha) ? gitMaybe(r.dir, ['cat-file', '-t', sha]) : null,
  ]);
  if (!old) throw new HttpError(422, 'Reference does not exist');
  if (type === null) throw new HttpError(422, 'Object does not exist');
  if (body.force !== true && (await run(['merge-base', '--is-ancestor', old, sha], { cwd: r.dir })).code !== 0) {
    throw new HttpError(422, 'Update is not a fast forward');
  }
  if ((await run(['update-ref', ref, sha, old], { cwd: r.dir })).code !== 0) {
    throw new HttpError(422, 'Update is not a fast forward');
  }
  return ok(refJson(fake, r, ref, sha, type));
}

export async function getGitCommit(fake: GitHubFake, { repo: r, params }: Ctx<'sha'>): Promise<Reply> {
  const c = await readCommit(r, params.sha);
  if (!c) throw notFound();
  return ok(gitCommitJson(fake, r, c));
}

export async function createGitCommit(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
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
  const sha = await git(r.dir, ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-F', '-'], message, {
    ...gitPersonEnv('AUTHOR', author, now),
    ...gitPersonEnv('COMMITTER', committer, now),
  });
  return ok(gitCommitJson(fake, r, (await readCommit(r, sha))!), 201);
}

export async function tagJson(fake: GitHubFake, r: RepoState, sha: string) {
  const raw = SHA.test(sha) ? await catFile(r.dir, 'tag', sha) : null;
  if (raw === null) throw notFound();
  const { headers, message } = parseObject(raw);
  const target = header(headers, 'object');
  const type = header(headers, 'type');
  return {
    node_id: nodeId('Tag', sha),
    tag: header(headers, 'tag'),
    sha,
    url: apiUrl(fake, r, `/git/tags/${sha}`),
    message,
    tagger: parsePerson(header(headers, 'tagger')),
    object: { type, sha: target, url: apiUrl(fake, r, `/git/${type}s/${target}`) },
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  };
}

export async function createGitTag(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const tag = str(body.tag, 'tag');
  const object = str(body.object, 'object');
  const type = typeof body.type === 'string' ? body.type : 'commit';
  const message = typeof body.message === 'string' ? body.message : '';
  const [valid, found] = await Promise.all([
    run(['check-ref-format', `refs/tags/${tag}`]).then((x) => x.code === 0),
    SHA.test(object) ? gitMaybe(r.dir, ['cat-file', '-t', object]) : null,
  ]);
  if (!valid) throw new HttpError(422, 'Invalid tag name');
  if (found !== type) throw new HttpError(422, 'Object does not exist');
  const t = (body.tagger ?? {}) as Record<string, unknown>;
  const when = typeof t.date === 'string' ? new Date(t.date) : new Date();
  const tagger = `${typeof t.name === 'string' ? t.name : BOT.name} <${typeof t.email === 'string' ? t.email : BOT.email}>`;
  const text = `object ${object}\ntype ${type}\ntag ${tag}\ntagger ${tagger} ${Math.floor(when.getTime() / 1000)} +0000\n\n${message}${message.endsWith('\n') ? '' : '\n'}`;
  const sha = await git(r.dir, ['mktag'], text);
  return ok(await tagJson(fake, r, sha), 201);
}
