/**
 * Deployments, deployment statuses and commit statuses in the GitHub fake, as GitHub answers
 * them (shapes checked against @octokit/openapi in test/integration/github-deployments.test.ts):
 * - POST /deployments resolves `ref` to a commit; without `required_contexts` it refuses (409)
 *   a commit whose commit statuses are not all successful, as GitHub does.
 * - POST …/statuses with `auto_inactive` (default true) on a success marks the environment's
 *   earlier non-transient, non-production deployments whose last status was success `inactive`.
 * - POST /statuses/{sha} records a commit status (visible in the combined status too).
 * Tests read what was written with `deploymentsOf(fake, owner, repo)` and `commitStatusesOf`.
 */
import { commitOr404 } from './git-data.js';
import { iso, nodeId } from './git-plumbing.js';
import { type Ctx, HttpError, notFound, ok, type Reply, str } from './http.js';
import { apiUrl, user } from './json.js';
import type { GitHubFake } from './server.js';
import type { RepoState } from './state.js';

export interface FakeDeploymentStatus {
  id: number;
  state: string;
  description: string;
  environment: string;
  environmentUrl: string;
  logUrl: string;
  at: string;
}

export interface FakeDeployment {
  id: number;
  sha: string;
  ref: string;
  task: string;
  environment: string;
  payload: Record<string, unknown> | string;
  description: string | null;
  productionEnvironment: boolean;
  transientEnvironment: boolean;
  at: string;
  statuses: FakeDeploymentStatus[];
}

export interface FakeCommitStatus {
  id: number;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  targetUrl: string | null;
  at: string;
}

interface RepoDeployments {
  deployments: FakeDeployment[];
  statuses: FakeCommitStatus[];
}

const stateOf = new WeakMap<RepoState, RepoDeployments>();

function stored(r: RepoState): RepoDeployments {
  let s = stateOf.get(r);
  if (!s) {
    s = { deployments: [], statuses: [] };
    stateOf.set(r, s);
  }
  return s;
}

export function deploymentsOf(fake: GitHubFake, owner: string, repo: string): FakeDeployment[] {
  return stored(fake.repoOrThrow(owner, repo)).deployments;
}

export function commitStatusesOf(fake: GitHubFake, owner: string, repo: string): FakeCommitStatus[] {
  return stored(fake.repoOrThrow(owner, repo)).statuses;
}

const invalid = (field: string, code = 'invalid') =>
  new HttpError(422, 'Validation Failed', { errors: [{ resource: 'Deployment', field, code }] });

function deploymentJson(fake: GitHubFake, r: RepoState, d: FakeDeployment) {
  const url = apiUrl(fake, r, `/deployments/${d.id}`);
  return {
    url,
    id: d.id,
    node_id: nodeId('Deployment', d.id),
    sha: d.sha,
    ref: d.ref,
    task: d.task,
    payload: d.payload,
    original_environment: d.environment,
    environment: d.environment,
    description: d.description,
    creator: user(fake),
    created_at: d.at,
    updated_at: d.statuses.at(-1)?.at ?? d.at,
    statuses_url: `${url}/statuses`,
    repository_url: apiUrl(fake, r),
    transient_environment: d.transientEnvironment,
    production_environment: d.productionEnvironment,
  };
}

function statusJson(fake: GitHubFake, r: RepoState, d: FakeDeployment, s: FakeDeploymentStatus) {
  const deploymentUrl = apiUrl(fake, r, `/deployments/${d.id}`);
  return {
    url: `${deploymentUrl}/statuses/${s.id}`,
    id: s.id,
    node_id: nodeId('DeploymentStatus', s.id),
    state: s.state,
    creator: user(fake),
    description: s.description,
    environment: s.environment,
    target_url: s.logUrl,
    created_at: s.at,
    updated_at: s.at,
    deployment_url: deploymentUrl,
    repository_url: apiUrl(fake, r),
    environment_url: s.environmentUrl,
    log_url: s.logUrl,
  };
}

function deploymentOr404(r: RepoState, id: string): FakeDeployment {
  const d = stored(r).deployments.find((x) => String(x.id) === id);
  if (!d) throw notFound();
  return d;
}

export async function createDeployment(fake: GitHubFake, { repo: r, body }: Ctx): Promise<Reply> {
  const ref = str(body.ref, 'ref');
  const c = await commitOr404(r, ref);
  const environment = body.environment === undefined ? 'production' : str(body.environment, 'environment');
  const payload = body.payload ?? '';
  if (typeof payload !== 'string' && (typeof payload !== 'object' || Array.isArray(payload))) throw invalid('payload');
  if (body.required_contexts !== undefined && !Array.isArray(body.required_contexts))
    throw invalid('required_contexts');
  const statuses = fake.checksOf(c.sha).filter((x) => x.kind === 'status');
  const contexts = (body.required_contexts as string[] | undefined) ?? statuses.map((s) => s.name);
  const failing = contexts.filter((ctx) => statuses.find((s) => s.name === ctx)?.state !== 'success');
  if (failing.length) {
    throw new HttpError(409, `Conflict: Commit status checks failed for ${ref}.`, {
      errors: failing.map((f) => ({
        contexts: [{ context: f, state: 'pending' }],
        resource: 'Deployment',
        field: 'required_contexts',
        code: 'invalid',
      })),
    });
  }
  const d: FakeDeployment = {
    id: fake.id(),
    sha: c.sha,
    ref,
    task: body.task === undefined ? 'deploy' : str(body.task, 'task'),
    environment,
    payload: payload as FakeDeployment['payload'],
    description: typeof body.description === 'string' ? body.description : null,
    productionEnvironment:
      typeof body.production_environment === 'boolean' ? body.production_environment : environment === 'production',
    transientEnvironment: body.transient_environment === true,
    at: iso(fake.now()),
    statuses: [],
  };
  stored(r).deployments.push(d);
  return ok(deploymentJson(fake, r, d), 201);
}

export async function listDeployments(fake: GitHubFake, { repo: r, query }: Ctx): Promise<Reply> {
  const filters = ['sha', 'ref', 'task', 'environment'] as const;
  const found = stored(r)
    .deployments.filter((d) => filters.every((f) => !query.get(f) || d[f] === query.get(f)))
    .reverse();
  const perPage = Math.min(100, Number(query.get('per_page') ?? 30) || 30);
  return ok(found.slice(0, perPage).map((d) => deploymentJson(fake, r, d)));
}

export async function getDeployment(fake: GitHubFake, { repo: r, params }: Ctx<'id'>): Promise<Reply> {
  return ok(deploymentJson(fake, r, deploymentOr404(r, params.id)));
}

const DEPLOYMENT_STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'];

export async function createDeploymentStatus(fake: GitHubFake, { repo: r, params, body }: Ctx<'id'>): Promise<Reply> {
  const d = deploymentOr404(r, params.id);
  const state = str(body.state, 'state');
  if (!DEPLOYMENT_STATES.includes(state)) throw invalid('state');
  const description = typeof body.description === 'string' ? body.description : '';
  if (description.length > 140) throw invalid('description');
  const logUrl =
    typeof body.log_url === 'string' ? body.log_url : typeof body.target_url === 'string' ? body.target_url : '';
  const s: FakeDeploymentStatus = {
    id: fake.id(),
    state,
    description,
    environment:
      typeof body.environment === 'string' ? body.environment : (d.statuses.at(-1)?.environment ?? d.environment),
    environmentUrl: typeof body.environment_url === 'string' ? body.environment_url : '',
    logUrl,
    at: iso(fake.now()),
  };
  d.statuses.push(s);
  if (state === 'success' && body.auto_inactive !== false) {
    for (const other of stored(r).deployments) {
      if (
        other === d ||
        other.environment !== d.environment ||
        other.transientEnvironment ||
        other.productionEnvironment
      )
        continue;
      if (other.statuses.at(-1)?.state !== 'success') continue;
      other.statuses.push({
        ...other.statuses.at(-1)!,
        id: fake.id(),
        state: 'inactive',
        description: '',
        at: iso(fake.now()),
      });
    }
  }
  return ok(statusJson(fake, r, d, s), 201);
}

export async function listDeploymentStatuses(fake: GitHubFake, { repo: r, params }: Ctx<'id'>): Promise<Reply> {
  const d = deploymentOr404(r, params.id);
  return ok([...d.statuses].reverse().map((s) => statusJson(fake, r, d, s)));
}

const COMMIT_STATES = ['error', 'failure', 'pending', 'success'];

export async function createCommitStatus(fake: GitHubFake, { repo: r, params, body }: Ctx<'sha'>): Promise<Reply> {
  const c = await commitOr404(r, params.sha);
  const state = str(body.state, 'state');
  if (!COMMIT_STATES.includes(state)) throw invalid('state');
  const context = typeof body.context === 'string' && body.context ? body.context : 'default';
  const s: FakeCommitStatus = {
    id: fake.id(),
    sha: c.sha,
    state,
    context,
    description: typeof body.description === 'string' ? body.description : null,
    targetUrl: typeof body.target_url === 'string' ? body.target_url : null,
    at: iso(fake.now()),
  };
  stored(r).statuses.push(s);
  fake.setChecks(c.sha, state === 'error' ? 'failure' : (state as 'success' | 'failure' | 'pending'), {
    kind: 'status',
    name: context,
  });
  return ok(
    {
      url: apiUrl(fake, r, `/statuses/${c.sha}`),
      avatar_url: `${fake.url}/avatars/conveyor`,
      id: s.id,
      node_id: nodeId('StatusContext', s.id),
      state,
      description: s.description,
      target_url: s.targetUrl,
      context,
      created_at: s.at,
      updated_at: s.at,
      creator: user(fake),
    },
    201,
  );
}
