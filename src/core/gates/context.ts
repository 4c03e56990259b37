/** Builds the context the gate rules read, from the configuration and the ports at hand. */
import type { Config, GateConfig } from '../../config/schema.js';
import type { OperationKind } from '../operation.js';
import type { ChangeTickets, Clock, Directory } from '../ports.js';
import type { GateContext, GatePhase } from './gate-rule.js';
import { requiredRoles, rolesOf } from './roles.js';

export interface GateSources {
  config: Config;
  clock: Clock;
  directory: Directory;
  tickets?: ChangeTickets | null;
}

/** The gate of an app environment, or of a journal chain link; null where there is none. */
export function gateOf(config: Config, kind: OperationKind | null, env: string): GateConfig | null {
  if (kind?.startsWith('journal')) return config.journal?.chain.find((c) => c.env === env)?.gate ?? null;
  return config.environments.find((e) => e.name === env)?.gate ?? null;
}

export function gateContext(
  sources: GateSources,
  phase: GatePhase,
  req: { kind: OperationKind | null; app: string; env: string; requester: string; emergency: boolean },
  extra: Partial<Omit<GateContext, 'phase' | 'kind' | 'app' | 'env' | 'requester' | 'emergency'>> = {},
): GateContext {
  const gate = gateOf(sources.config, req.kind, req.env);
  // One look-up per person per check, however many rules ask.
  const roles = new Map<string, Promise<string[]>>();
  return {
    phase,
    kind: req.kind,
    app: req.app,
    env: req.env,
    gate,
    required: gate && req.kind ? requiredRoles(gate, req.kind, req.emergency) : {},
    requester: req.requester,
    emergency: req.emergency,
    now: sources.clock.now(),
    roles: sources.config.roles,
    rolesOf: (user) => {
      const known = roles.get(user);
      if (known) return known;
      const mine = rolesOf(sources, user);
      roles.set(user, mine);
      return mine;
    },
    tickets: sources.tickets ?? null,
    ...extra,
  };
}
