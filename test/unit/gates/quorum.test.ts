import { describe, expect, it } from 'vitest';
import { quorum, rolesQuorum } from '../../../src/core/gates/quorum.js';
import { gateCtx } from './gate-fixture.js';

const a = (userId: string, role: string, sha = 'T1') => ({ userId, role, sha });

describe('gate rule: roles quorum', () => {
  it('counts distinct eligible people: never the requester, one person one role, only the version that ships', () => {
    const status = quorum(
      { 'tech-lead': 1, 'product-owner': 1 },
      [
        a('U_DEV', 'tech-lead'),
        a('U_LEAD', 'tech-lead'),
        a('U_LEAD', 'product-owner'),
        a('U_PO', 'product-owner', 'T0'),
      ],
      'T1',
      'U_DEV',
    );
    expect(status.roles).toEqual([
      { role: 'tech-lead', needed: 1, approvers: ['U_LEAD'] },
      { role: 'product-owner', needed: 1, approvers: [] },
    ]);
    expect(status).toMatchObject({ satisfied: false, missing: ['1 product-owner'] });
  });

  it('waits with what is missing, passes once the quorum is there', async () => {
    const required = { 'tech-lead': 2 };
    const load = (approvals: ReturnType<typeof a>[]) => ({ load: async () => ({ approvals, subject: 'T1' }) });
    expect(await rolesQuorum.check(gateCtx('await', { required, approval: load([a('U_LEAD', 'tech-lead')]) }))).toEqual(
      { verdict: 'wait', missing: ['1 tech-lead'] },
    );
    expect(
      await rolesQuorum.check(
        gateCtx('await', { required, approval: load([a('U_LEAD', 'tech-lead'), a('U_LEAD2', 'tech-lead')]) }),
      ),
    ).toEqual({ verdict: 'pass' });
  });

  it('waits for nothing once the operation ended while its approvals were read', async () => {
    expect(
      await rolesQuorum.check(gateCtx('await', { required: { 'tech-lead': 1 }, approval: { load: async () => null } })),
    ).toEqual({ verdict: 'wait', missing: [] });
  });
});
