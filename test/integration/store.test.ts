/**
 * One store test body, run on both state backends: PGlite in memory and a real PostgreSQL
 * started for this file. On PostgreSQL the races go through separate pool connections (and a
 * second pool, as a second replica would), so they are real cross-connection races.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import type { GitPlan, Operation } from '../../src/core/operation.js';
import type { Clock } from '../../src/core/ports.js';
import { SqlAuditLog } from '../../src/store/audit-store.js';
import { EmbeddedKv } from '../../src/store/embedded-kv.js';
import { MIGRATION_LOCK_KEY } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open-store.js';
import { newOperationId } from '../../src/store/operation-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

class ManualClock implements Clock {
  t = Date.UTC(2026, 10, 23, 9, 0, 0);
  now(): Date {
    return new Date(this.t);
  }
}

interface Backend {
  name: string;
  /** A fresh, empty database. */
  fresh(): Promise<string>;
  /** Whether other sessions can connect to the same database (not PGlite in memory). */
  sessions: boolean;
  /** A second user of the same database: another pool on PostgreSQL, the same Db on PGlite. */
  peer(store: StateStore, url: string, clock: Clock): Promise<StateStore>;
  stop(): Promise<void>;
}

let postgres: TestPostgres | null = null;
let dbCount = 0;

const BACKENDS: Backend[] = [
  {
    name: 'PGlite (pglite:memory)',
    sessions: false,
    fresh: async () => 'pglite:memory',
    // PGlite is one process, one database handle: its only second user is a second store on it.
    peer: (store, _url, clock) => StateStore.open(store.db, clock),
    stop: async () => undefined,
  },
  {
    name: 'PostgreSQL (real server)',
    sessions: true,
    async fresh() {
      postgres ??= await startPostgres();
      return postgres.createDatabase(`store_${++dbCount}`);
    },
    peer: (_store, url, clock) => openStore(url, clock),
    stop: async () => postgres?.stop(),
  },
];

const plan = (app: string, env: string): GitPlan => ({
  app,
  env,
  branch: env,
  sourceEnv: 'staging',
  sourceSha: 'a'.repeat(40),
  sourceTree: 'b'.repeat(40),
  targetHead: 'c'.repeat(40),
  mode: 'fast-forward',
  viaPullRequest: false,
  commits: [],
  commitCount: 1,
  ticket: null,
  emergency: false,
  fromTag: null,
  toTag: null,
  reason: null,
});

describe.each(BACKENDS)('state store on $name', (backend) => {
  const clock = new ManualClock();
  let url: string;
  let store: StateStore;
  let peer: StateStore;

  beforeAll(async () => {
    url = await backend.fresh();
    store = await openStore(url, clock);
    peer = await backend.peer(store, url, clock);
  });
  afterAll(async () => {
    if (peer && peer.db !== store?.db) await peer.close();
    await store?.close();
    await backend.stop();
  });

  const newOp = (app = 'api', env = 'prod', extra: { idempotencyKey?: string } = {}) =>
    store.operationStore.createOperation({
      kind: 'promote',
      app,
      env,
      requester: 'U_DEMO',
      plan: plan(app, env),
      idempotencyKey: extra.idempotencyKey ?? null,
      expiresAt: null,
    });

  it('runs its migrations again harmlessly and keeps the data', async () => {
    const op = await newOp('web', 'qa');
    await StateStore.open(store.db, clock);
    await StateStore.open(peer.db, clock);
    expect((await store.operationStore.operation(op.id)).state).toBe('requested');
    const versions = await store.db.query<{ version: number; n: string | number }>(
      'SELECT version, count(*) AS n FROM schema_migrations GROUP BY version',
    );
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.every((v) => Number(v.n) === 1)).toBe(true);
  });

  // Another replica, mid-way through creating the schema (the race seen when replicas start
  // together): it holds the migration lock of src/store/migrations.ts (MIGRATION_LOCK_KEY) and has
  // created schema_migrations without committing yet. A second replica must wait, not crash.
  // Regression: migrate() used to create schema_migrations before taking its advisory lock.
  it.skipIf(!backend.sessions)('a replica that starts while another creates the schema waits for it', async () => {
    const fresh = await backend.fresh();
    const other = new pg.Client({ connectionString: fresh });
    // Watches for the second replica to block (pg_stat_activity is a snapshot inside `other`'s transaction).
    const observer = new pg.Client({ connectionString: fresh });
    await Promise.all([other.connect(), observer.connect()]);
    try {
      await other.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
      await other.query('BEGIN');
      await other.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const opening = openStore(fresh, clock).then(
        (s) => s,
        (err: Error) => err,
      );
      await vi.waitFor(
        async () => {
          const { rows } = await observer.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
          );
          expect(rows[0].n).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 20 },
      );
      await other.query('COMMIT');
      await other.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
      const second = await opening;
      if (second instanceof StateStore) await second.close();
      expect(second).toBeInstanceOf(StateStore);
    } finally {
      await Promise.all([other.end(), observer.end()]);
    }
  });

  it('moves an operation through its states, audits each step and refuses illegal transitions', async () => {
    const op = await newOp();
    expect(op).toMatchObject({ state: 'requested', app: 'api', env: 'prod', requester: 'U_DEMO' });
    expect((await store.operationStore.operation(op.id)).plan).toEqual(plan('api', 'prod'));
    const path = ['awaiting-approval', 'approved', 'applying', 'applied', 'succeeded'] as const;
    for (const to of path) expect((await store.operationStore.transition(op.id, to, 'U_LEAD')).state).toBe(to);

    await expect(store.operationStore.transition(op.id, 'applying', 'U_LEAD')).rejects.toBeInstanceOf(ConflictError);
    await expect(store.operationStore.transition(op.id, 'requested', 'U_LEAD')).rejects.toThrow(
      /succeeded; it cannot become requested/,
    );
    expect((await store.operationStore.operation(op.id)).state).toBe('succeeded');
    await expect(store.operationStore.transition(newOperationId(), 'approved', 'U_LEAD')).rejects.toBeInstanceOf(
      NotFoundError,
    );

    const audit = await store.auditStore.auditLog({ operationId: op.id });
    expect(audit.map((a) => a.action).reverse()).toEqual(['operation.requested', ...path.map((s) => `operation.${s}`)]);
    expect(audit.find((a) => a.action === 'operation.applying')?.detail).toMatchObject({ from: 'approved' });
    expect(audit.find((a) => a.action === 'operation.applying')?.actor).toBe('U_LEAD');
  });

  it('a transition through states: one write, each move audited in order from the one before, the error with the last', async () => {
    const op = await newOp();
    const moved = await store.operationStore.transition(op.id, 'applying', 'conveyor', { through: ['approved'] });
    expect(moved.state).toBe('applying');
    const failed = await peer.operationStore.transition(op.id, 'failed', 'conveyor', {
      through: ['applied'],
      error: 'the rollout did not start',
    });
    expect(failed).toMatchObject({ state: 'failed', error: 'the rollout did not start' });
    const audit = (await store.auditStore.auditLog({ operationId: op.id })).reverse();
    expect(audit.map((a) => [a.action, a.detail.from, a.detail.error ?? null])).toEqual([
      ['operation.requested', undefined, null],
      ['operation.approved', 'requested', null],
      ['operation.applying', 'approved', null],
      ['operation.applied', 'applying', null],
      ['operation.failed', 'applied', 'the rollout did not start'],
    ]);
    // A path the machine does not have is refused before anything is written.
    const other = await newOp();
    await expect(
      store.operationStore.transition(other.id, 'succeeded', 'conveyor', { through: ['approved'] }),
    ).rejects.toThrow(/no move from approved to succeeded/);
    await expect(
      store.operationStore.transition(other.id, 'applied', 'conveyor', { through: ['applying'] }),
    ).rejects.toThrow(/is requested; it cannot become applied/);
    expect((await store.operationStore.operation(other.id)).state).toBe('requested');
    expect((await store.auditStore.auditLog({ operationId: other.id })).map((a) => a.action)).toEqual([
      'operation.requested',
    ]);
  });

  it('a transition writes its progress with the state; a refused or a racing one changes nothing and audits nothing', async () => {
    const op = await newOp();
    await store.operationStore.saveProgress(op.id, { source: 'cli', lastStep: 'tag' });
    const moved = await store.operationStore.transition(op.id, 'approved', 'conveyor', {
      progress: { lastError: null, lastStep: 'move-branch' },
    });
    expect(moved).toMatchObject({
      state: 'approved',
      progress: { source: 'cli', lastStep: 'move-branch', lastError: null },
    });
    expect(await store.operationStore.operation(op.id)).toMatchObject({ progress: moved.progress });

    await expect(
      store.operationStore.transition(op.id, 'succeeded', 'conveyor', { progress: { lastStep: 'nope' } }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await store.operationStore.operation(op.id)).progress.lastStep).toBe('move-branch');

    // Two workers (on PostgreSQL, two connections) move it at once: exactly one does.
    const both = await Promise.allSettled([
      store.operationStore.transition(op.id, 'applying', 'w1'),
      peer.operationStore.transition(op.id, 'failed', 'w2', { error: 'raced' }),
    ]);
    const won = both.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Operation>).value);
    const final = await store.operationStore.operation(op.id);
    const audit = (await store.auditStore.auditLog({ operationId: op.id })).map((a) => a.action);
    expect(audit.filter((a) => a === 'operation.applying' || a === 'operation.failed')).toHaveLength(
      final.state === 'failed' && won.length === 2 ? 2 : 1,
    );
    // Whichever came second either followed the first (applying → failed is allowed) or was refused.
    if (won.length === 2) expect(final.state).toBe('failed');
    else expect(won[0]!.state).toBe(final.state);
    expect(audit.at(0)).toBe(`operation.${final.state}`);
  });

  it('binds a request key to its request: one claimant, the fingerprint kept, one answer and one log line', async () => {
    const key = `cli:${newOperationId()}`;
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? peer : store).idempotencyStore.claimRequestKey(key, 'fp-a', `w${i}`),
      ),
    );
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    const seen = await peer.idempotencyStore.claimRequestKey(key, 'fp-b', 'w9');
    expect(seen).toMatchObject({ claimed: false, fingerprint: 'fp-a', reply: null });
    expect(await store.idempotencyStore.requestKeyFingerprint(key)).toBe('fp-a');
    // Only the recorded claimant can be taken over, once.
    const claimant = (seen as { claimedBy: string }).claimedBy;
    expect(await store.idempotencyStore.takeOverKey(key, 'w-new', 'someone-else')).toBe(false);
    expect(await store.idempotencyStore.takeOverKey(key, 'w-new', claimant)).toBe(true);
    expect(await peer.idempotencyStore.takeOverKey(key, 'w-other', claimant)).toBe(false);
    const entry = { actor: 'U_A', source: 'cli', text: 'promote api qa', outcome: 'ok' };
    await store.idempotencyStore.finishRequest(key, { status: 'ok', title: 'done' }, entry);
    await peer.commandLogStore.logCommand({ ...entry, requestKey: key }); // a second run of the same request
    expect(await store.commandLogStore.commandLogFor(key)).toHaveLength(1);
    expect(await store.idempotencyStore.takeOverKey(key, 'w-late', 'w-new')).toBe(false); // answered: nothing to take over
  });

  it('accepts an inbox item once however many deliveries race, and resumes only unfinished, unclaimed ones', async () => {
    const { InboxStore } = await import('../../src/store/inbox-store.js');
    const a = new InboxStore(store.db, clock);
    const b = new InboxStore(peer.db, clock);
    const id = `slack:T1:${newOperationId()}`;
    const accepted = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? b : a).accept(id, 'command', { text: 'help', n: i })),
    );
    expect(accepted.filter(Boolean)).toHaveLength(1);
    const claimed = `slack:T1:${newOperationId()}`;
    expect(await a.accept(claimed, 'command', { text: 'list' }, { worker: 'w1', ms: 60_000 })).toBe(true);
    const open = await b.open(1000);
    expect(open).toContain(id);
    expect(open).not.toContain(claimed); // born claimed by a live worker
    expect(await b.claim(claimed, 'w2', 60_000)).toBeNull();
    expect((await a.claim(id, 'w1', 60_000))?.payload).toMatchObject({ text: 'help' });
    await a.finish(id, 'done');
    expect(await b.open(1000)).not.toContain(id);
    expect(await b.claim(id, 'w2', 60_000)).toBeNull();
  });

  it('claims an idempotency key once and replays the saved reply', async () => {
    const key = `slack:${newOperationId()}`;
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? peer : store).idempotencyStore.claimKey(key)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await store.idempotencyStore.keyReply(key)).toBeUndefined();
    await store.idempotencyStore.saveKeyReply(key, { status: 'ok', title: 'promoted' });
    expect(await peer.idempotencyStore.keyReply(key)).toEqual({ status: 'ok', title: 'promoted' });
    await store.idempotencyStore.forgetKey(key); // only forgets keys without a reply
    expect(await store.idempotencyStore.claimKey(key)).toBe(false);

    const unanswered = `cli:${newOperationId()}`;
    expect(await store.idempotencyStore.claimKey(unanswered)).toBe(true);
    await store.idempotencyStore.forgetKey(unanswered);
    expect(await store.idempotencyStore.claimKey(unanswered)).toBe(true);

    const opKey = `slack:${newOperationId()}`;
    const first = await newOp('api', 'qa', { idempotencyKey: opKey });
    await expect(newOp('api', 'qa', { idempotencyKey: opKey })).rejects.toThrow();
    expect((await store.operationStore.operationByKey(opKey))?.id).toBe(first.id);
  });

  it('reads the approvals of many operations at once, and counts operations without reading them', async () => {
    const a = await newOp('count-a', 'qa');
    const b = await newOp('count-b', 'qa');
    const c = await newOp('count-c', 'qa');
    const sha = 'e'.repeat(40);
    await store.approvalStore.addApproval(a.id, 'U_LEAD', 'tech-lead', sha);
    clock.t += 1000;
    await store.approvalStore.addApproval(a.id, 'U_PO', 'product-owner', sha);
    await store.approvalStore.addApproval(c.id, 'U_QA', 'qa', sha);
    const byOperation = await store.approvalStore.approvalsOf([a.id, b.id, c.id]);
    expect(byOperation.get(a.id)?.map((x) => x.userId)).toEqual(['U_LEAD', 'U_PO']);
    expect(byOperation.has(b.id)).toBe(false);
    expect(byOperation.get(c.id)?.map((x) => `${x.userId}:${x.role}`)).toEqual(['U_QA:qa']);
    expect((await store.approvalStore.approvalsOf([])).size).toBe(0);

    await store.operationStore.transition(b.id, 'awaiting-approval', 'U_DEMO');
    const ops = store.operationStore;
    expect(await ops.countOperations({ app: 'count-a' })).toBe(1);
    expect(await ops.countOperations({ env: 'qa', states: ['awaiting-approval'] })).toBe(
      (await ops.operations({ env: 'qa', states: ['awaiting-approval'], limit: 10_000 })).length,
    );
    expect(await ops.countOperations({ app: 'count-b', states: ['awaiting-approval'] })).toBe(1);
    expect(await ops.countOperations({ app: 'count-c', states: ['awaiting-approval'] })).toBe(0);
  });

  it('records one approval per user and version', async () => {
    const op = await newOp();
    const sha = 'd'.repeat(40);
    expect(await store.approvalStore.addApproval(op.id, 'U_LEAD', 'tech-lead', sha)).toBe(true);
    expect(await store.approvalStore.addApproval(op.id, 'U_LEAD', 'tech-lead', sha)).toBe(false);
    expect(await store.approvalStore.addApproval(op.id, 'U_LEAD', 'product-owner', sha)).toBe(false);
    expect(await store.approvalStore.addApproval(op.id, 'U_PO', 'product-owner', sha)).toBe(true);
    const approvals = await store.approvalStore.approvals(op.id);
    expect(approvals.map((a) => `${a.userId}:${a.role}`).sort()).toEqual(['U_LEAD:tech-lead', 'U_PO:product-owner']);
  });

  it('apply locks: the second acquirer sees the holder; a manual * lock blocks every app; release frees', async () => {
    const [a, b, c] = [newOperationId(), newOperationId(), newOperationId()];
    expect(await store.lockStore.acquireLock('api', 'staging', a, 'U_ANA', 'promote api')).toBeNull();
    expect(await store.lockStore.acquireLock('api', 'staging', a, 'U_ANA', 'promote api')).toBeNull(); // its own lock
    const held = await peer.lockStore.acquireLock('api', 'staging', b, 'U_BEN', 'rollback api');
    expect(held).toMatchObject({
      app: 'api',
      env: 'staging',
      operationId: a,
      holder: 'U_ANA',
      manual: false,
    });

    expect(await store.lockStore.setManualLock('*', 'staging', 'U_OPS', 'release freeze')).toBe(true);
    expect(await store.lockStore.setManualLock('*', 'staging', 'U_OPS', 'again')).toBe(false);
    for (const app of ['web', 'api']) {
      expect(await store.lockStore.acquireLock(app, 'staging', c, 'U_CAT', 'promote')).toMatchObject({
        app: '*',
        manual: true,
        holder: 'U_OPS',
        reason: 'release freeze',
      });
    }
    expect(await store.lockStore.acquireLock('web', 'qa', c, 'U_CAT', 'promote')).toBeNull(); // other environment
    await store.lockStore.releaseLock('web', 'qa', c);
    expect(await store.lockStore.clearManualLock('*', 'staging')).toBe(true);
    expect(await store.lockStore.clearManualLock('*', 'staging')).toBe(false);

    await store.lockStore.releaseLock('api', 'staging', b); // not the holder: nothing happens
    expect((await store.lockStore.acquireLock('api', 'staging', b, 'U_BEN', 'rollback'))?.operationId).toBe(a);
    await store.lockStore.releaseLock('api', 'staging', a);
    expect(await peer.lockStore.acquireLock('api', 'staging', b, 'U_BEN', 'rollback')).toBeNull();
    await store.lockStore.releaseLock('api', 'staging', b);
    expect(await store.lockStore.allLocks()).toEqual([]);
  });

  it('20 concurrent acquirers of one (app, env): exactly one wins, the rest see the winner', async () => {
    const ids = Array.from({ length: 20 }, () => newOperationId());
    const results = await Promise.all(
      ids.map((id, i) => (i % 2 ? peer : store).lockStore.acquireLock('web', 'prod', id, `U_${i}`, 'race')),
    );
    const winners = ids.filter((_, i) => results[i] === null);
    expect(winners).toHaveLength(1);
    for (const r of results) if (r) expect(r.operationId).toBe(winners[0]);
    expect(await store.lockStore.locksFor('web', 'prod')).toHaveLength(1);
    await store.lockStore.releaseLock('web', 'prod', winners[0]!);
  });

  it('claim(): one worker wins an operation until its claim runs out', async () => {
    const op = await newOp('web', 'staging');
    const workers = Array.from({ length: 8 }, (_, i) => `worker-${i}`);
    const results = await Promise.all(
      workers.map((w, i) => (i % 2 ? peer : store).operationStore.claim(op.id, w, 60_000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = workers[results.findIndex(Boolean)]!;
    const other = workers.find((w) => w !== winner)!;
    expect((await store.operationStore.claim(op.id, winner, 60_000))?.id).toBe(op.id); // renewal, the operation as claimed
    expect(await store.operationStore.claim(op.id, other, 60_000)).toBeNull();
    clock.t += 61_000;
    expect((await store.operationStore.claim(op.id, other, 60_000))?.state).toBe(op.state); // the first worker's claim lapsed
    await store.operationStore.release(op.id, other);
    expect(await store.operationStore.claim(op.id, winner, 60_000)).not.toBeNull();
  });

  it('a move to a final state lets go of the operation lock and the claim in the same write; a manual lock stays', async () => {
    const op = await newOp('api', 'prod');
    expect(await store.lockStore.acquireLock('api', 'prod', op.id, 'U_ANA', 'promote')).toBeNull();
    expect(await store.operationStore.claim(op.id, 'worker-a', 60_000)).not.toBeNull();
    await store.operationStore.transition(op.id, 'approved', 'conveyor'); // not final: both held
    expect(await peer.lockStore.locksFor('api', 'prod')).toHaveLength(1);
    expect(await peer.operationStore.claim(op.id, 'worker-b', 60_000)).toBeNull();
    expect(await store.lockStore.setManualLock('*', 'prod', 'U_OPS', 'freeze')).toBe(true);
    await store.operationStore.transition(op.id, 'cancelled', 'U_ANA');
    expect(await peer.lockStore.locksFor('api', 'prod')).toEqual([
      expect.objectContaining({ app: '*', manual: true, holder: 'U_OPS' }),
    ]);
    expect((await peer.operationStore.claim(op.id, 'worker-b', 60_000))?.state).toBe('cancelled');
    expect(await store.lockStore.clearManualLock('*', 'prod')).toBe(true);
  });

  it('only ever appends audit rows', async () => {
    const before = await store.auditStore.auditLog({ limit: 10_000 });
    const op = await newOp('web', 'prod');
    await store.operationStore.transition(op.id, 'cancelled', 'U_DEMO');
    await store.auditStore.audit('U_OPS', 'lock.set', null, { env: 'prod' });
    await store.lockStore.setManualLock('web', 'prod', 'U_OPS', 'x');
    await store.lockStore.clearManualLock('web', 'prod');
    await store.idempotencyStore.forgetKey('nothing');
    const after = await store.auditStore.auditLog({ limit: 10_000 });
    expect(after.length).toBe(before.length + 3);
    const byId = new Map(after.map((a) => [a.id, a]));
    for (const row of before) expect(byId.get(row.id)).toEqual(row);
    // The audit log's store has no method that deletes or rewrites rows.
    const methods = Object.getOwnPropertyNames(SqlAuditLog.prototype).filter((m) => m !== 'constructor');
    expect(methods.sort()).toEqual(['audit', 'auditLog']);
  });

  describe('embedded key-value store', () => {
    let kv: EmbeddedKv;
    beforeAll(() => {
      kv = new EmbeddedKv(store.db);
    });

    it('compare-and-set: cas 0 only when absent, a stale index loses', async () => {
      const key = `journal_version/${newOperationId()}`;
      expect(await kv.put(key, 'v1', { cas: 0 })).toBe(true);
      expect(await kv.put(key, 'other', { cas: 0 })).toBe(false);
      const first = (await kv.get(key))!;
      expect(first.value).toBe('v1');
      expect(await kv.put(key, 'v2', { cas: first.modifyIndex })).toBe(true);
      expect(await kv.put(key, 'v3', { cas: first.modifyIndex })).toBe(false);
      const second = (await kv.get(key))!;
      expect(second).toMatchObject({ value: 'v2' });
      expect(second.modifyIndex).toBeGreaterThan(first.modifyIndex);
      expect(await kv.put(key, 'v4')).toBe(true); // no cas: always
      expect((await kv.get(key))!.value).toBe('v4');
      expect(await kv.get(`${key}/absent`)).toBeNull();
    });

    it('watch resolves when another put happens, and returns the same index when nothing changes', async () => {
      const key = `journal_version/${newOperationId()}`;
      await kv.put(key, 'v1');
      const index = (await kv.get(key))!.modifyIndex;
      const quiet = await kv.watch(key, index, { waitMs: 150 });
      expect(quiet).toMatchObject({ index, entry: { value: 'v1' } });

      const woken = kv.watch(key, index, { waitMs: 60_000 });
      await kv.put(`${key}-neighbour`, 'x'); // another key does not wake it
      await kv.put(key, 'v2');
      const changed = await woken;
      expect(changed.entry?.value).toBe('v2');
      expect(changed.index).toBeGreaterThan(index);
    });

    it('a waiting watch rejects with AbortError when aborted', async () => {
      const key = `journal_version/${newOperationId()}`;
      await kv.put(key, 'v1');
      const index = (await kv.get(key))!.modifyIndex;
      const aborted = new AbortController();
      const pending = kv.watch(key, index, { waitMs: 60_000, signal: aborted.signal });
      // Let the watch reach its wait (it reads the key first), then abort: no timing assertion.
      await store.db.query('SELECT 1');
      await new Promise((r) => setTimeout(r, 50));
      aborted.abort();
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('a watch whose signal is already aborted rejects instead of waiting out waitMs', async () => {
      const key = `journal_version/${newOperationId()}`;
      await kv.put(key, 'v1');
      const index = (await kv.get(key))!.modifyIndex;
      // Regression (fixed): watch() only listens for 'abort' after its first read and never checks
      // signal.aborted, so an aborted watch waits out waitMs and then resolves.
      const outcome = await kv.watch(key, index, { waitMs: 300, signal: AbortSignal.abort() }).then(
        () => 'resolved',
        (err: Error) => err.name,
      );
      expect(outcome).toBe('AbortError');
    });
  });
});
