/**
 * The store split by aggregate: each store class answers exactly its port (checked by the
 * compiler below), and the core's one-object Store port assembled from them
 * (src/compose/state.ts) reaches every aggregate without two stores shadowing each other.
 */
import { describe, expect, it } from 'vitest';
import { storePort } from '../../../src/compose/state.js';
import type {
  ApprovalStore,
  IdempotencyStore,
  LiveStateStore,
  LockStore,
  OperationStore,
} from '../../../src/core/ports.js';
import type { SqlApprovalStore } from '../../../src/store/approval-store.js';
import type { AuditPort, SqlAuditLog } from '../../../src/store/audit-store.js';
import type { CommandLogPort, SqlCommandLog } from '../../../src/store/command-log-store.js';
import type { SqlIdempotencyStore } from '../../../src/store/idempotency-store.js';
import type { SqlLiveStateStore } from '../../../src/store/live-state-store.js';
import type { SqlLockStore } from '../../../src/store/lock-store.js';
import type { SqlOperationStore } from '../../../src/store/operation-store.js';
import { clonedStore, TestClock } from '../../support/runtime.js';

/** true when the class's public members are exactly the port's (private ones are not in keyof). */
type Exactly<C, P> = [Exclude<keyof C, keyof P>, Exclude<keyof P, keyof C>] extends [never, never] ? true : false;
// A store with a public method its port lacks (or lacking one) fails to compile here (tsc checks test/).
type Holds<T extends true> = T;
// biome-ignore lint/correctness/noUnusedVariables: a compile-time check, nothing uses it at run time
type ExactlyTheirPorts = [
  Holds<Exactly<SqlOperationStore, OperationStore>>,
  Holds<Exactly<SqlApprovalStore, ApprovalStore>>,
  Holds<Exactly<SqlLockStore, LockStore>>,
  Holds<Exactly<SqlAuditLog, AuditPort>>,
  Holds<Exactly<SqlCommandLog, CommandLogPort>>,
  Holds<Exactly<SqlIdempotencyStore, IdempotencyStore>>,
  Holds<Exactly<SqlLiveStateStore, LiveStateStore>>,
];

const plan = {
  app: 'api',
  env: 'qa',
  branch: 'qa',
  sourceEnv: 'dev',
  sourceSha: 'a'.repeat(40),
  sourceTree: 'b'.repeat(40),
  targetHead: 'c'.repeat(40),
  mode: 'fast-forward' as const,
  viaPullRequest: false,
  commits: [],
  commitCount: 1,
  ticket: null,
  emergency: false,
  fromTag: null,
  toTag: null,
  reason: null,
};

describe('the store split by aggregate', () => {
  it("assembles the core's Store port from the aggregates' stores: every method reaches its own store, none shadowed", async () => {
    const state = await clonedStore(new TestClock());
    try {
      const parts = [
        state.operationStore,
        state.approvalStore,
        state.lockStore,
        state.auditStore,
        state.commandLogStore,
        state.idempotencyStore,
        state.liveStateStore,
      ];
      const names = parts.flatMap((p) =>
        Object.getOwnPropertyNames(Object.getPrototypeOf(p)).filter((m) => m !== 'constructor'),
      );
      expect(new Set(names).size).toBe(names.length); // no method in two stores
      const store = storePort(state);
      expect(Object.keys(store).sort()).toEqual([...names, 'close', 'singleProcess'].sort());
      expect(store.singleProcess).toBe(true); // PGlite

      // Written through the port, read through each aggregate's own store: one database.
      const op = await store.createOperation({
        kind: 'promote',
        app: 'api',
        env: 'qa',
        requester: 'U_ANA',
        plan,
        idempotencyKey: null,
        expiresAt: null,
      });
      expect(await store.transition(op.id, 'awaiting-approval', 'U_ANA')).toMatchObject({ state: 'awaiting-approval' });
      expect((await state.operationStore.operation(op.id)).state).toBe('awaiting-approval');
      const audit = await state.auditStore.auditLog({ operationId: op.id });
      expect(audit.map((a) => a.action)).toEqual(['operation.awaiting-approval', 'operation.requested']);
      expect(await store.addApproval(op.id, 'U_LEAD', 'tech-lead', 'd'.repeat(40))).toBe(true);
      expect(await state.approvalStore.approvals(op.id)).toHaveLength(1);
      expect(await store.acquireLock('api', 'qa', op.id, 'U_ANA', 'promote')).toBeNull();
      expect(await state.lockStore.allLocks()).toMatchObject([{ app: 'api', env: 'qa', operationId: op.id }]);
      expect(await store.claimRequestKey('cli:k1', 'fp', 'w1')).toEqual({ claimed: true });
      await store.finishRequest(
        'cli:k1',
        { status: 'ok' },
        { actor: 'U_ANA', source: 'cli', text: 'x', outcome: 'ok' },
      );
      expect(await state.commandLogStore.commandLogFor('cli:k1')).toMatchObject([{ actor: 'U_ANA', text: 'x' }]);
      expect(await store.setLiveState('api', 'qa', 'healthy', '')).toBe(true);
      expect(await state.liveStateStore.liveStates()).toMatchObject([{ app: 'api', env: 'qa', state: 'healthy' }]);
      // A new detail under the same state is kept, but is no transition.
      expect(await store.setLiveState('api', 'qa', 'healthy', 'Argo CD argocd/api-qa: synced 1a2b3c4d')).toBe(false);
      expect(await state.liveStateStore.liveStates()).toMatchObject([
        { state: 'healthy', detail: 'Argo CD argocd/api-qa: synced 1a2b3c4d' },
      ]);

      await store.close();
      await expect(state.db.query('SELECT 1')).rejects.toThrow();
    } finally {
      await state.close().catch(() => undefined);
    }
  });

  it("a request's reply and its command-log line are written together or not at all", async () => {
    const state = await clonedStore(new TestClock());
    try {
      expect(await state.idempotencyStore.claimRequestKey('cli:k2', 'fp', 'w1')).toEqual({ claimed: true });
      // The line fails after the reply was written (its text is missing): the reply is rolled back.
      const broken = { actor: 'U_ANA', source: 'cli', text: null as unknown as string, outcome: 'ok' };
      await expect(state.idempotencyStore.finishRequest('cli:k2', { status: 'ok' }, broken)).rejects.toThrow();
      expect(await state.idempotencyStore.keyReply('cli:k2')).toBeUndefined();
      expect(await state.commandLogStore.commandLogFor('cli:k2')).toEqual([]);
    } finally {
      await state.close();
    }
  });
});
