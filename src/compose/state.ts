/** Where the state lives: the one decision, for the store and for the leadership built on it. */
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';

/** DATABASE_URL overrides an embedded (`pglite:`) state.url, except in the sandbox. */
export function stateUrlOf(config: Config, secrets: Secrets, sandbox: boolean): string {
  const configured = config.state.url;
  return secrets.DATABASE_URL && configured.startsWith('pglite:') && !sandbox ? secrets.DATABASE_URL : configured;
}
