/**
 * The sandbox's people are the demo users its configuration names under `roles`: `--as` (and a
 * serve-token request's body `user`) may act only as one of them.
 */
import type { Config } from '../config/schema.js';

/** Every user named under `roles`, in the order the configuration names them. */
export function demoUsers(config: Pick<Config, 'roles'>): string[] {
  return [...new Set(Object.values(config.roles).flatMap((r) => r.users))];
}

/** Why `user` is refused, or null when the sandbox names them. */
export function unknownDemoUser(user: string, users: readonly string[]): string | null {
  if (users.includes(user)) return null;
  return `"${user}" is not a sandbox user; the demo users are ${users.join(', ')} (roles in the sandbox configuration)`;
}
