/**
 * Who sees what on the web board, in the audit export and in `audit` (README "Web board").
 *
 * - The sandbox (no `board.oidc`): open, everything visible.
 * - Otherwise a person is a Slack user id (from the OIDC claim through `board.users`, or the
 *   owner of a personal API token) with the roles `roles:` gives that id. They see:
 *   - an environment whose gate names roles (approvers, rollback approvers or requesters) when
 *     they hold one of those roles; an environment whose gate names no role when they hold any
 *     role at all;
 *   - a journal chain environment by the same rule on its chain gate;
 *   - operations, approvals and audit lines of the environments they see; audit lines tied to no
 *     operation and no environment (tokens, reconciliation) only when they see every environment.
 *   Someone with no role sees nothing.
 */
import type { Config } from '../config/schema.js';
import type { AuditEntry } from './ports.js';

export interface Viewer {
  /** Shown in the header: the claim value and the Slack id. */
  label: string;
  /** The Slack user id, null for the sandbox's anonymous visitor. */
  user: string | null;
  roles: string[];
  /** Every environment, journal environment and audit line (the sandbox). */
  all: boolean;
}

export const SANDBOX_VIEWER: Viewer = { label: 'sandbox (open board)', user: null, roles: [], all: true };

export function rolesOf(config: Config, user: string): string[] {
  return Object.entries(config.roles)
    .filter(([, r]) => r.users.includes(user))
    .map(([name]) => name);
}

export function viewerFor(config: Config, user: string, label = user): Viewer {
  return { label, user, roles: rolesOf(config, user), all: false };
}

type GateLike = { roles?: Record<string, number>; rollbackRoles?: Record<string, number>; requesters?: string[] };

function gateRoles(gate: GateLike | undefined): string[] {
  return [...Object.keys(gate?.roles ?? {}), ...Object.keys(gate?.rollbackRoles ?? {}), ...(gate?.requesters ?? [])];
}

function maySee(viewer: Viewer, gate: GateLike | undefined): boolean {
  if (viewer.all) return true;
  if (!viewer.roles.length) return false;
  const named = gateRoles(gate);
  return named.length === 0 || named.some((r) => viewer.roles.includes(r));
}

export class Visibility {
  readonly envs: ReadonlySet<string>;
  readonly journalEnvs: ReadonlySet<string>;
  readonly everything: boolean;

  constructor(
    config: Config,
    readonly viewer: Viewer,
  ) {
    this.envs = new Set(config.environments.filter((e) => maySee(viewer, e.gate)).map((e) => e.name));
    this.journalEnvs = new Set((config.journal?.chain ?? []).filter((l) => maySee(viewer, l.gate)).map((l) => l.env));
    this.everything =
      viewer.all ||
      (this.envs.size === config.environments.length && this.journalEnvs.size === (config.journal?.chain ?? []).length);
  }

  /** An operation's environment: app environments, or journal environments for journal kinds. */
  operation(op: { kind: string; env: string }): boolean {
    return op.kind.startsWith('journal-') ? this.journalEnvs.has(op.env) : this.envs.has(op.env);
  }

  /** An audit line, given the operations it may name (id → kind and env). */
  audit(entry: AuditEntry, opOf: (id: string) => { kind: string; env: string } | undefined): boolean {
    if (this.everything) return true;
    if (entry.operationId) {
      const op = opOf(entry.operationId);
      return op ? this.operation(op) : false;
    }
    const env = typeof entry.detail?.env === 'string' ? entry.detail.env : null;
    return env ? this.envs.has(env) || this.journalEnvs.has(env) : false;
  }
}
