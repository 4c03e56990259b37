/** Every REST route the GitHub fake answers: method, path pattern, handler. */
import { combinedStatus, listCheckRuns } from './checks-statuses.js';
import {
  createCommitStatus,
  createDeployment,
  createDeploymentStatus,
  getDeployment,
  listDeploymentStatuses,
  listDeployments,
} from './deployments.js';
import {
  createGitCommit,
  createGitTag,
  createRef,
  getGitCommit,
  getRef,
  listRefs,
  tagJson,
  updateRef,
} from './git-data.js';
import { graphqlRequest } from './graphql.js';
import { ok, type Route, route } from './http.js';
import { createComment, createReaction, listComments, updateComment } from './issue-comments.js';
import { fullRepo } from './json.js';
import { createPull, findPull, listPulls, mergePull, pullJson, updatePull } from './pulls.js';
import { getBranch, getRateLimit, listCommits } from './repos.js';

export const ROUTES: Route[] = [
  route('GET', '/rate_limit', getRateLimit),
  route('POST', '/graphql', graphqlRequest),
  route('GET', '/repos/:owner/:repo', async (f, { repo }) => ok(fullRepo(f, repo))),
  route('GET', '/repos/:owner/:repo/git/refs', async (f, { repo }) => ok(await listRefs(f, repo, 'refs/'))),
  route('GET', '/repos/:owner/:repo/git/matching-refs/*ref', async (f, { repo, params }) =>
    ok((await listRefs(f, repo, 'refs/')).filter((x) => x.ref.startsWith(`refs/${params.ref}`))),
  ),
  route('POST', '/repos/:owner/:repo/git/refs', createRef),
  route('GET', '/repos/:owner/:repo/git/ref/*ref', getRef),
  route('PATCH', '/repos/:owner/:repo/git/refs/*ref', updateRef),
  route('GET', '/repos/:owner/:repo/git/commits/:sha', getGitCommit),
  route('POST', '/repos/:owner/:repo/git/commits', createGitCommit),
  route('GET', '/repos/:owner/:repo/git/tags/:sha', async (f, { repo, params }) =>
    ok(await tagJson(f, repo, params.sha)),
  ),
  route('POST', '/repos/:owner/:repo/git/tags', createGitTag),
  route('GET', '/repos/:owner/:repo/pulls', listPulls),
  route('POST', '/repos/:owner/:repo/pulls', createPull),
  route('GET', '/repos/:owner/:repo/pulls/:number', async (f, { repo, params }) =>
    ok(await pullJson(f, repo, await findPull(repo, params.number), true)),
  ),
  route('PATCH', '/repos/:owner/:repo/pulls/:number', updatePull),
  route('PUT', '/repos/:owner/:repo/pulls/:number/merge', mergePull),
  route('GET', '/repos/:owner/:repo/commits/:ref/check-runs', listCheckRuns),
  route('GET', '/repos/:owner/:repo/commits/:ref/status', combinedStatus),
  route('GET', '/repos/:owner/:repo/branches/*branch', getBranch),
  route('GET', '/repos/:owner/:repo/commits', listCommits),
  route('POST', '/repos/:owner/:repo/deployments', createDeployment),
  route('GET', '/repos/:owner/:repo/deployments', listDeployments),
  route('GET', '/repos/:owner/:repo/deployments/:id', getDeployment),
  route('POST', '/repos/:owner/:repo/deployments/:id/statuses', createDeploymentStatus),
  route('GET', '/repos/:owner/:repo/deployments/:id/statuses', listDeploymentStatuses),
  route('POST', '/repos/:owner/:repo/statuses/:sha', createCommitStatus),
  route('POST', '/repos/:owner/:repo/issues/:number/comments', createComment),
  route('GET', '/repos/:owner/:repo/issues/:number/comments', listComments),
  route('PATCH', '/repos/:owner/:repo/issues/comments/:id', updateComment),
  route('POST', '/repos/:owner/:repo/issues/comments/:id/reactions', createReaction),
];
