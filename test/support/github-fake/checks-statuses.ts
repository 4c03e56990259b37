/** CI results in the GitHub fake: check runs and the combined commit status, set by `setChecks`. */

import { commitOr404 } from './git-data.js';
import { nodeId } from './git-plumbing.js';
import { type Ctx, ok, type Reply } from './http.js';
import { apiUrl, htmlUrl, minimalRepo, user } from './json.js';
import type { GitHubFake } from './server.js';

export async function listCheckRuns(fake: GitHubFake, { repo: r, params }: Ctx<'ref'>): Promise<Reply> {
  const c = await commitOr404(r, params.ref);
  const runs = fake.checksOf(c.sha).filter((x) => x.kind === 'check-run');
  const app = {
    id: 15368,
    slug: 'github-actions',
    node_id: nodeId('App', 15368),
    owner: user(fake, 'github'),
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
      url: apiUrl(fake, r, `/check-runs/${x.id}`),
      html_url: htmlUrl(fake, r, `/runs/${x.id}`),
      details_url: htmlUrl(fake, r, `/runs/${x.id}`),
      status: x.state === 'pending' ? 'in_progress' : 'completed',
      conclusion: x.state === 'pending' ? null : x.state,
      started_at: x.at,
      completed_at: x.state === 'pending' ? null : x.at,
      output: {
        title: null,
        summary: null,
        text: null,
        annotations_count: 0,
        annotations_url: apiUrl(fake, r, `/check-runs/${x.id}/annotations`),
      },
      check_suite: { id: x.id + 1 },
      app,
      pull_requests: [],
    })),
  });
}

export async function combinedStatus(fake: GitHubFake, { repo: r, params }: Ctx<'ref'>): Promise<Reply> {
  const c = await commitOr404(r, params.ref);
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
    repository: minimalRepo(fake, r),
    commit_url: apiUrl(fake, r, `/commits/${c.sha}`),
    url: apiUrl(fake, r, `/commits/${c.sha}/status`),
    statuses: statuses.map((s) => ({
      id: s.id,
      node_id: nodeId('StatusContext', s.id),
      url: apiUrl(fake, r, `/statuses/${c.sha}`),
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
