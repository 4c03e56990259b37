/** A gate context built by hand: every rule test starts from this and changes what it checks. */
import type { GateConfig } from '../../../src/config/schema.js';
import type { EnvState } from '../../../src/core/env-state.js';
import type { GateContext, GatePhase } from '../../../src/core/gates/gate-rule.js';
import type { DeployTag } from '../../../src/core/ports.js';

export const ROLES = {
  'tech-lead': { users: ['U_LEAD', 'U_LEAD2'], groups: [] },
  'product-owner': { users: ['U_PO'], groups: [] },
  'qa-lead': { users: ['U_QA'], groups: [] },
  devops: { users: [], groups: ['S_OPS'] },
  developer: { users: ['U_DEV'], groups: [] },
};

const HELD: Record<string, string[]> = {
  U_LEAD: ['tech-lead'],
  U_LEAD2: ['tech-lead'],
  U_PO: ['product-owner'],
  U_QA: ['qa-lead'],
  U_DEV: ['developer'],
};

export function gateConfig(over: Partial<GateConfig> = {}): GateConfig {
  return {
    roles: {},
    expiresAfter: 86_400_000,
    changeTicket: 'none',
    freezes: [],
    requesters: [],
    requireChecks: false,
    ...over,
  } as GateConfig;
}

export function gateCtx(phase: GatePhase, over: Partial<GateContext> = {}): GateContext {
  const gate = over.gate === undefined ? gateConfig() : over.gate;
  return {
    phase,
    kind: 'promote',
    app: 'api',
    env: 'prod',
    gate,
    required: gate?.roles ?? {},
    requester: 'U_DEV',
    emergency: false,
    now: new Date('2025-03-05T12:00:00Z'), // a Wednesday
    roles: ROLES,
    rolesOf: async (user) => HELD[user] ?? [],
    ...over,
  };
}

/** An environment state with deploy tags (newest first); a tag's message may name the version it rolled back from. */
export function envState(name: string, head: { sha: string; tree: string } | null, tags: DeployTag[] = []): EnvState {
  return {
    env: { name, branch: name, gate: gateConfig() } as EnvState['env'],
    head: head?.sha ?? null,
    tree: head?.tree ?? null,
    commit: head ? { sha: head.sha, subject: 's', author: 'a', date: '2025-03-01T00:00:00Z' } : null,
    tag: tags.find((t) => t.sha === head?.sha) ?? null,
    tags,
  };
}
