/**
 * Everything a command or the controller needs, built once by the composition root
 * (src/compose.ts) from the validated configuration.
 */
import type { Logger } from 'pino';
import type { AppConfig, Config, EnvironmentConfig } from '../config/schema.js';
import type { JournalStore } from '../store/journal-store.js';
import type { StateStore } from '../store/state-store.js';
import type { ChangeTickets, Clock, Directory, GitHost, KvStore, Notifier, ObjectStore } from './ports.js';

export interface Runtime {
  config: Config;
  store: StateStore;
  journal: JournalStore;
  clock: Clock;
  log: Logger;
  /** One GitHost per app, by app name. */
  git: Map<string, GitHost>;
  notifier: Notifier | null;
  directory: Directory;
  tickets: ChangeTickets | null;
  kv: KvStore;
  objects: ObjectStore;
  /** Set by the composition root: runs operations (src/core/operation-engine.ts). */
  engine: import('./operation-engine.js').OperationEngine;
  sandbox: boolean;
  metrics: import('./metrics.js').Metrics;
  /** The Slack Web API client when Slack is configured (the Slack app reuses it). */
  slackClient?: import('@slack/web-api').WebClient | null;
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
