/** GitHub's JSON shapes for users, repositories, commits and refs, as the REST API answers them. */
import { BOT, type GitCommitObj, nodeId } from './git-plumbing.js';
import type { GitHubFake } from './server.js';
import type { RepoState } from './state.js';

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

export function user(fake: GitHubFake, login = BOT.name) {
  const u = `${fake.url}/users/${login}`;
  return {
    login,
    id: 1,
    node_id: nodeId('User', login),
    avatar_url: `${fake.url}/avatars/${login}`,
    gravatar_id: '',
    url: u,
    html_url: `${fake.url}/${login}`,
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

export function apiUrl(fake: GitHubFake, r: RepoState, suffix = ''): string {
  return `${fake.url}/repos/${r.owner}/${r.name}${suffix}`;
}
export function htmlUrl(fake: GitHubFake, r: RepoState, suffix = ''): string {
  return `${fake.url}/${r.owner}/${r.name}${suffix}`;
}

export function minimalRepo(fake: GitHubFake, r: RepoState) {
  const base = apiUrl(fake, r);
  return {
    id: r.id,
    node_id: nodeId('Repository', r.id),
    name: r.name,
    full_name: `${r.owner}/${r.name}`,
    owner: user(fake, r.owner),
    private: true,
    html_url: htmlUrl(fake, r),
    description: null,
    fork: false,
    url: base,
    ...Object.fromEntries(REPO_URLS.map(([k, v]) => [k, base + v])),
  };
}

export function fullRepo(fake: GitHubFake, r: RepoState) {
  const host = new URL(fake.url).host;
  return {
    ...minimalRepo(fake, r),
    clone_url: fake.gitUrl(r.owner, r.name),
    git_url: `git://${host}/${r.owner}/${r.name}.git`,
    ssh_url: `git@${host}:${r.owner}/${r.name}.git`,
    svn_url: htmlUrl(fake, r),
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

export function gitCommitJson(fake: GitHubFake, r: RepoState, c: GitCommitObj) {
  return {
    sha: c.sha,
    node_id: nodeId('Commit', c.sha),
    url: apiUrl(fake, r, `/git/commits/${c.sha}`),
    html_url: htmlUrl(fake, r, `/commit/${c.sha}`),
    author: c.author,
    committer: c.committer,
    message: c.message,
    tree: { sha: c.tree, url: apiUrl(fake, r, `/git/trees/${c.tree}`) },
    parents: c.parents.map((p) => ({
      sha: p,
      url: apiUrl(fake, r, `/git/commits/${p}`),
      html_url: htmlUrl(fake, r, `/commit/${p}`),
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

export function commitJson(fake: GitHubFake, r: RepoState, c: GitCommitObj) {
  const git = gitCommitJson(fake, r, c);
  return {
    url: apiUrl(fake, r, `/commits/${c.sha}`),
    sha: c.sha,
    node_id: git.node_id,
    html_url: git.html_url,
    comments_url: apiUrl(fake, r, `/commits/${c.sha}/comments`),
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
      url: apiUrl(fake, r, `/commits/${p}`),
      html_url: htmlUrl(fake, r, `/commit/${p}`),
    })),
  };
}

export function refJson(fake: GitHubFake, r: RepoState, ref: string, sha: string, type: string) {
  const short = ref.replace(/^refs\//, '');
  return {
    ref,
    node_id: nodeId('Ref', `${r.id}:${ref}`),
    url: apiUrl(fake, r, `/git/refs/${short}`),
    object: { type, sha, url: apiUrl(fake, r, `/git/${type}s/${sha}`) },
  };
}
