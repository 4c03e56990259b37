/**
 * The composition root: every client is built here, once, from the validated configuration
 * and the environment's secrets, and passed down. Nothing deeper constructs an SDK client or
 * reads a secret: serve, the controller (./controller.ts), `conveyor run` and the journal
 * workers are all composed from here.
 */

import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { COMMANDS } from '../../commands/index.js';
import { LogNotifier } from '../adapters/log-notifier.js';
import type { Config } from '../config/schema.js';
import { readSecrets } from '../config/secrets.js';
import type { CommandRegistry } from '../core/command.js';
import { Metrics } from '../core/metrics.js';
import { OperationEngine } from '../core/operation-engine.js';
import {
  type Clock,
  type Directory,
  emptyDirectory,
  type GitHost,
  type Notifier,
  type ObjectStore,
  type Store,
  systemClock,
} from '../core/ports.js';
import type { Runtime } from '../core/runtime.js';
import { journalChain } from '../journal/chain.js';
import { registerByHand } from '../journal/manual-register.js';
import { EmbeddedKv } from '../store/embedded-kv.js';
import type { InboxStore } from '../store/inbox-store.js';
import type { JournalStore } from '../store/journal-store.js';
import { openStore } from '../store/open-store.js';
import type { StateStore } from '../store/state-store.js';
import type { TokenStore } from '../store/token-store.js';
import { buildConsulKv, buildObjectStore, buildSlackClient, buildTickets, withWebhooks } from './clients.js';
import { buildGitHost } from './git-hosts/index.js';
import { buildGitHubObservers, buildNotifySinks, hasNotifySinks } from './notify-sinks.js';
import { stateUrlOf, storePort } from './state.js';
import { installVerifyHooks } from './verify-hooks.js';

export { buildConsulKv, buildObjectStore, buildTickets, type ConsulSettings } from './clients.js';
export { GIT_HOST_PROVIDERS } from './git-hosts/index.js';
export { stateUrlOf, storePort } from './state.js';
export { journalChain, wireControllerless } from './wiring.js';

export interface ComposeOptions {
  config: Config;
  /** Folder relative paths in the configuration are resolved against. */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  log: Logger;
  sandbox?: boolean;
  notifier?: Notifier | null;
  directory?: Directory;
  /** Extra GitHosts by app name (tests, or adapters built elsewhere). */
  gitHosts?: Map<string, GitHost>;
  objects?: ObjectStore;
  metrics?: Metrics;
  /** An already-open state database (tests clone a migrated template instead of migrating again). */
  state?: StateStore;
}

/** The runtime as the outer rings (server, CLI, tests) see it: the concrete stores behind the ports. */
export interface ComposedRuntime extends Runtime, CommandRegistry {
  /** The state database and each aggregate's store over it; `store` is the core's port over the same stores. */
  state: StateStore;
  store: Store;
  journal: JournalStore;
  tokens: TokenStore;
  /** The durable inbox of acked Slack requests, in the same store. */
  inbox: InboxStore;
  /** The engine itself: kinds and the verification policy are registered here, not by the core. */
  engine: OperationEngine;
  log: Logger;
}

export async function compose(options: ComposeOptions): Promise<ComposedRuntime> {
  const { config, baseDir, log } = options;
  const clock = options.clock ?? systemClock;
  const secrets = readSecrets(options.env ?? process.env);
  const state =
    options.state ?? (await openStore(stateUrlOf(config, secrets, Boolean(options.sandbox)), clock, baseDir));
  const store = storePort(state);
  // A PGlite folder has one process at a time (its folder lock): claims left by a killed
  // predecessor are stale, so the sweep can resume its operations at once.
  if (state.singleProcess) await state.operationStore.releaseAllClaims();
  try {
    const metrics = options.metrics ?? new Metrics();
    const git = new Map<string, GitHost>(options.gitHosts ?? []);
    for (const app of config.apps) {
      if (!git.has(app.name)) git.set(app.name, await buildGitHost(app, { config, secrets, baseDir, log, metrics }));
    }
    const slack = secrets.SLACK_BOT_TOKEN ? await buildSlackClient(config, secrets, log, metrics) : null;
    const primary = options.notifier !== undefined ? options.notifier : slack ? slack.notifier : new LogNotifier(log);
    const env = options.env ?? process.env;
    const sinks = hasNotifySinks(config)
      ? await buildNotifySinks(config, env, metrics, {
          onError: (err) => log.warn({ err: (err as Error).message }, 'a notification beyond Slack failed'),
        })
      : [];
    sinks.push(...(await buildGitHubObservers(config, git, store, metrics, log)));
    const notifier =
      primary && (config.notify || sinks.length) ? await withWebhooks(primary, config, env, log, sinks) : primary;
    const directory = options.directory ?? slack?.directory ?? emptyDirectory;
    const kv = config.consul
      ? await buildConsulKv(config.consul, secrets.CONSUL_HTTP_TOKEN, baseDir)
      : new EmbeddedKv(state.db);
    const objects = options.objects ?? (await buildObjectStore(config, baseDir));
    const tickets = config.servicenow ? await buildTickets(config.servicenow, secrets) : null;
    const engine = new OperationEngine({
      store,
      config,
      clock,
      log,
      notifier,
      directory,
      git,
      metrics,
      tickets,
      workerId: `${hostname()}:${process.pid}`,
    });
    installVerifyHooks(engine, { config, store, clock, log, git });
    const runtime: ComposedRuntime = {
      config,
      state,
      store,
      journal: state.journalStore,
      tokens: state.tokenStore,
      inbox: state.inboxStore,
      clock,
      log,
      git,
      notifier,
      directory,
      tickets,
      kv,
      objects,
      engine,
      sandbox: Boolean(options.sandbox),
      metrics,
      commands: COMMANDS,
    };
    // The journal chain reads the runtime it belongs to; the commands see it as a port.
    const chain = journalChain(runtime);
    runtime.journalChain = {
      get chain() {
        return chain.chain;
      },
      keyFor: (env) => chain.keyFor(env),
      position: (env) => chain.position(env),
      planSeed: () => chain.planSeed(),
      planPromote: (env, version) => chain.planPromote(env, version),
      planRollback: (env, to) => chain.planRollback(env, to),
      retry: (env) => chain.retry(env),
      registerByHand: (objectKey, user) => registerByHand(runtime, objectKey, user),
    };
    return runtime;
  } catch (err) {
    await state.close();
    throw err;
  }
}
