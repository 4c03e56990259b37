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
 * rate_limit, App installation tokens, and GraphQL's `updateRefs` mutation and `repository { id }`
 * (validated against GitHub's published schema: github-fake/graphql.ts). Requests need `Authorization: token|Bearer <token>`;
 * an App JWT whose `iss` is `appId` gets that token from POST /app/installations/{id}/access_tokens.
 * Every GET answers with an ETag and X-Poll-Interval; `If-None-Match` gives a 304 that consumes
 * no rate limit. Paths are decoded, so refs may come as `heads%2Fmain` or `heads/main`.
 *
 * Git smart HTTP at `/{owner}/{repo}.git/…` runs `git http-backend`: clone and fetch need no
 * credentials; push needs basic auth whose password is the token (else 401, as GitHub).
 *
 * The fake is split by API area under test/support/github-fake/: server.ts (the class, auth, rate
 * limits, faults), routes.ts, git-data.ts, pulls.ts, checks-statuses.ts, repos.ts, json.ts (response
 * shapes), graphql.ts, smart-http.ts, git-plumbing.ts, http.ts, state.ts.
 */
export { GitHubFake, startGitHubFake } from './github-fake/server.js';
export type { FakeCheckState, FakeRequest, GitHubFakeOptions } from './github-fake/state.js';
