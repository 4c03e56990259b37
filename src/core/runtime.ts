/**
 * Everything a command or the controller needs, built once by the composition root
 * (src/compose/) from the validated configuration. The core sees only its ports.
 */
import type { AppConfig, Config, EnvironmentConfig } from '../config/schema.js';
import type { Metrics } from './metrics.js';
import type {
  ApiTokens,
  ChangeTickets,
  Clock,
  Directory,
  Engine,
  GitHost,
  JournalChainPort,
  JournalVersions,
  KvStore,
  Log,
  Notifier,
  ObjectStore,
  Store,
} from './ports.js';

export interface Runtime {
  config: Config;
  store: Store;
  journal: JournalVersions;
  /** The journal chain's plans and moves (src/journal/chain.ts), set by the composition root. */
  journalChain?: JournalChainPort;
  /** Personal API tokens. */
  tokens: ApiTokens;
  clock: Clock;
  log: Log;
  /** One GitHost per app, by app name. */
  git: Map<string, GitHost>;
  notifier: Notifier | null;
  directory: Directory;
  tickets: ChangeTickets | null;
  kv: KvStore;
  objects: ObjectStore;
  /** Runs operations (src/core/operation-engine.ts, built by the composition root). */
  engine: Engine;
  sandbox: boolean;
  metrics: Metrics;
}

export function findApp(config: Config, name: string): AppConfig | undefined {
  return config.apps.find((a) => a.name === name);
}

export function findEnv(config: Config, name: string): EnvironmentConfig | undefined {
  return config.environments.find((e) => e.name === name);
}

export function envIndex(config: Config, name: string): number {
  return config.environments.findIndex((e) => e.name === name);
}
