import { describe, expect, it } from 'vitest';
import { pruneRetention } from '../../../src/store/retention.js';
import { clonedStore, TestClock } from '../../support/runtime.js';

describe('retention', () => {
  it('prunes old idempotency keys (not those in flight), command lines and deliveries; keeps the audit log by default', async () => {
    const store = await clonedStore(new TestClock());
    const db = store.db;
    try {
      const old = '2020-01-01T00:00:00Z';
      await db.query(
        `INSERT INTO idempotency (key, reply, at) VALUES ('old-done', '{}'::jsonb, $1), ('old-in-flight', NULL, $1), ('new', '{}'::jsonb, now())`,
        [old],
      );
      await db.query(
        `INSERT INTO command_log (at, actor, source, text, outcome) VALUES ($1, 'U1', 'slack', 'list', 'ok'), (now(), 'U1', 'slack', 'list', 'ok')`,
        [old],
      );
      await db.query(`INSERT INTO deliveries (id, at) VALUES ('d-old', $1), ('d-new', now())`, [old]);
      await db.query(`INSERT INTO audit (at, actor, action) VALUES ($1, 'U1', 'promote')`, [old]);
      await db.query(
        `INSERT INTO inbox (id, kind, payload, state, accepted_at, updated_at) VALUES
           ('i-old-done', 'command', '{}'::jsonb, 'done', $1, $1), ('i-old-open', 'command', '{}'::jsonb, 'accepted', $1, $1),
           ('i-new-done', 'command', '{}'::jsonb, 'done', now(), now())`,
        [old],
      );
      const deleted = await pruneRetention(db);
      expect(deleted).toEqual({ idempotency: 1, command_log: 1, deliveries: 1, inbox: 1 });
      // An accepted request not yet answered is never pruned, however old.
      expect((await db.query<{ id: string }>('SELECT id FROM inbox ORDER BY id')).map((r) => r.id)).toEqual([
        'i-new-done',
        'i-old-open',
      ]);
      const keys = (await db.query<{ key: string }>('SELECT key FROM idempotency ORDER BY key')).map((r) => r.key);
      expect(keys).toEqual(['new', 'old-in-flight']);
      expect(await db.query('SELECT id FROM deliveries')).toEqual([{ id: 'd-new' }]);
      expect((await db.query('SELECT * FROM audit')).length).toBeGreaterThanOrEqual(1);
    } finally {
      await store.close();
    }
  });
});
