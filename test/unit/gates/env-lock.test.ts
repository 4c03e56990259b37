import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../src/core/errors.js';
import { envLock } from '../../../src/core/gates/env-lock.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { gateCtx } from './gate-fixture.js';

describe('gate rule: env lock', () => {
  it('passes an unlocked environment', async () => {
    const store = new MemoryStore();
    expect((await envLock.check(gateCtx('dry-run', { locks: store }))).verdict).toBe('pass');
  });

  it('refuses with who locked it and why, for the app or for every app', async () => {
    const store = new MemoryStore();
    await store.setManualLock('*', 'prod', 'U_LEAD', 'release freeze');
    const v = await envLock.check(gateCtx('dry-run', { locks: store }));
    expect(v.verdict === 'refuse' && v.error).toBeInstanceOf(ConflictError);
    expect(v.verdict === 'refuse' && v.reason).toBe('every app in prod is locked by U_LEAD: release freeze');
  });

  it('names the operation holding it, unless that one waits for approval past its expiry', async () => {
    const store = new MemoryStore();
    const op = await store.createOperation({
      kind: 'promote',
      app: 'api',
      env: 'prod',
      requester: 'U_PO',
      plan: {} as never,
      idempotencyKey: null,
      expiresAt: '2025-03-06T00:00:00Z',
    });
    await store.transition(op.id, 'awaiting-approval', 'conveyor');
    await store.acquireLock('api', 'prod', op.id, 'U_PO', `promote ${op.id}`);
    const busy = await envLock.check(gateCtx('dry-run', { locks: store }));
    expect(busy.verdict === 'refuse' && busy.reason).toBe(`api in prod is busy with promote ${op.id} (asked by U_PO)`);
    const later = await envLock.check(gateCtx('dry-run', { locks: store, now: new Date('2025-03-07T00:00:00Z') }));
    expect(later.verdict).toBe('pass');
  });
});
