/** Where the state lives: the one decision, for the store and for the leadership built on it. */
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type {
  ApprovalStore,
  IdempotencyStore,
  LiveStateStore,
  LockStore,
  OperationStore,
  Store,
} from '../core/ports.js';
import type { AuditPort } from '../store/audit-store.js';
import type { CommandLogPort } from '../store/command-log-store.js';
import type { StateStore } from '../store/state-store.js';

/** DATABASE_URL overrides an embedded (`pglite:`) state.url, except in the sandbox. */
export function stateUrlOf(config: Config, secrets: Secrets, sandbox: boolean): string {
  const configured = config.state.url;
  return secrets.DATABASE_URL && configured.startsWith('pglite:') && !sandbox ? secrets.DATABASE_URL : configured;
}

/**
 * The methods of one aggregate's store, bound to it. Each store class's public methods are
 * exactly its port's (test/unit/store/aggregate-stores.test.ts checks it), so nothing else
 * leaks into the object this is spread into.
 */
function methodsOf<P extends object>(store: P): P {
  const out: Record<string, unknown> = {};
  const proto = Object.getPrototypeOf(store) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const fn = Object.getOwnPropertyDescriptor(proto, name)?.value;
    if (name !== 'constructor' && typeof fn === 'function') out[name] = fn.bind(store);
  }
  return out as P;
}

/**
 * The core's `Store` port (src/core/ports/store.ts) is still one object answering for every
 * aggregate (the engine and the commands take it whole): it is assembled here from the
 * aggregates' stores, each method delegating to its own store. Outer rings take the part they
 * need from the StateStore instead (e.g. the webhooks its idempotency store).
 */
export function storePort(state: StateStore): Store {
  return {
    ...methodsOf<OperationStore>(state.operationStore),
    ...methodsOf<ApprovalStore>(state.approvalStore),
    ...methodsOf<LockStore>(state.lockStore),
    ...methodsOf<AuditPort>(state.auditStore),
    ...methodsOf<CommandLogPort>(state.commandLogStore),
    ...methodsOf<IdempotencyStore>(state.idempotencyStore),
    ...methodsOf<LiveStateStore>(state.liveStateStore),
    get singleProcess() {
      return state.singleProcess;
    },
    close: () => state.close(),
  };
}
