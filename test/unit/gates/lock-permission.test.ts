import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/core/errors.js';
import { lockPermission } from '../../../src/core/gates/lock-permission.js';
import { gateConfig, gateCtx } from './gate-fixture.js';

describe('gate rule: lock permission', () => {
  it('lets anyone lock an environment whose gate names nobody', async () => {
    expect((await lockPermission.check(gateCtx('lock', { kind: null }))).verdict).toBe('pass');
  });

  it("lets the environment's approvers and requesters lock it, and audits a refusal", async () => {
    const gate = gateConfig({
      roles: { 'tech-lead': 1 },
      rollbackRoles: { 'tech-lead': 1, 'product-owner': 1 },
      requesters: ['developer'],
    });
    expect((await lockPermission.check(gateCtx('lock', { kind: null, gate, requester: 'U_PO' }))).verdict).toBe('pass');
    expect((await lockPermission.check(gateCtx('lock', { kind: null, gate, requester: 'U_DEV' }))).verdict).toBe(
      'pass',
    );
    const v = await lockPermission.check(gateCtx('lock', { kind: null, gate, requester: 'U_QA' }));
    expect(v.verdict === 'refuse' && v.error).toBeInstanceOf(NotAllowedError);
    expect(v.verdict === 'refuse' && v.reason).toBe('only tech-lead, product-owner, developer may lock or unlock prod');
    expect(v.verdict === 'refuse' && v.audit).toEqual({ action: 'lock.refused', detail: { env: 'prod' } });
  });
});
