/** What the operation engine is built with (by the composition root, src/compose/). */
import type { Config } from '../../config/schema.js';
import type { Metrics } from '../metrics.js';
import type { ChangeTickets, Clock, Directory, GitHost, Log, Notifier, Store } from '../ports.js';
import type { VerificationPolicy } from '../steps/verification.js';

export interface EngineDeps {
  store: Store;
  config: Config;
  clock: Clock;
  log: Log;
  notifier: Notifier | null;
  directory: Directory;
  git: Map<string, GitHost>;
  workerId: string;
  metrics?: Metrics;
  /** ServiceNow, when configured: tickets are checked again right before the first write. */
  tickets?: ChangeTickets | null;
  /** Whether an applied operation waits for the controller's verdict (default: never). */
  needsVerification?: VerificationPolicy;
}
