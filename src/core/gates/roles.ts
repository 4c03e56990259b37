/** Roles: which a gate requires for a kind of operation, and which a person holds. */
import type { Config, GateConfig } from '../../config/schema.js';
import type { OperationKind } from '../operation.js';
import type { Directory } from '../ports.js';

export function requiredRoles(gate: GateConfig, kind: OperationKind, emergency: boolean): Record<string, number> {
  if (
    (kind === 'rollback' || kind === 'journal-rollback') &&
    gate.rollbackRoles &&
    (emergency || kind === 'journal-rollback')
  ) {
    return gate.rollbackRoles;
  }
  return gate.roles;
}

/** The roles `user` holds: named in them, or a member of one of their user groups. */
export async function rolesOf(
  sources: { config: Pick<Config, 'roles'>; directory: Directory },
  user: string,
): Promise<string[]> {
  const groups = new Set(await sources.directory.groupsOf(user).catch(() => [] as string[]));
  return Object.entries(sources.config.roles)
    .filter(([, who]) => who.users.includes(user) || who.groups.some((g) => groups.has(g)))
    .map(([role]) => role);
}
