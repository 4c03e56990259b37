/** The GitHub fake's state and options: repositories, pull requests, checks, recorded requests. */

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
  /**
   * false: GraphQL has no `updateRefs` mutation, as on a GitHub Enterprise Server older than
   * the mutation (default true).
   */
  updateRefs?: boolean;
}
export interface FakeRequest {
  method: string;
  path: string;
  status: number;
}

export interface PullState {
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
export interface RepoState {
  owner: string;
  name: string;
  id: number;
  dir: string;
  defaultBranch: string;
  createdAt: string;
  pulls: PullState[];
}
export interface Check {
  kind: 'check-run' | 'status';
  name: string;
  state: Exclude<FakeCheckState, 'none'>;
  id: number;
  at: string;
}
