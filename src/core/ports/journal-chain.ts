/**
 * The journal chain as the commands see it (src/journal/chain.ts implements it; the composition
 * root hands it over): the environments in order, their keys, plans for seeding, promoting and
 * rolling back, a retry, and registering an uploaded object by hand (src/journal/manual-register.ts).
 */
import type { Config } from '../../config/schema.js';
import type { JournalPlan } from '../operation.js';
import type { JournalVersion } from './journal-versions.js';

export type JournalLink = NonNullable<Config['journal']>['chain'][number];

export interface JournalChainPort {
  /** The import environments, in order. */
  readonly chain: readonly JournalLink[];
  keyFor(env: string): string;
  /** The environment's place in the chain; an InputError naming the chain when it is not in it. */
  position(env: string): number;
  /** Each throws NothingToMove (src/core/errors.ts) when there is nothing to do. */
  planSeed(): Promise<JournalPlan>;
  planPromote(env: string, version?: string): Promise<JournalPlan>;
  planRollback(env: string, to?: string): Promise<JournalPlan>;
  /** Rewrite the key with its own value so the agent imports it again; the version. */
  retry(env: string): Promise<string>;
  /** Register an uploaded object after reading it back (manual correction). */
  registerByHand(objectKey: string, user: string): Promise<{ version: JournalVersion; created: boolean }>;
}
