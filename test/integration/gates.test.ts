/**
 * Approval gates on a real runtime with an injected clock: no self-approval, one person one
 * role, quorum, expiry, lapsed approvals, rejection, freezes, who may ask, change tickets
 * (with the ServiceNow fake). The gate config is edited in place between tests (the engine
 * and the commands read the same object) and put back afterwards.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowTickets } from '../../src/adapters/servicenow.js';
import type { GateConfig } from '../../src/config/schema.js';
import { head, tagMessage, tagsAt, treeOf } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import { ServiceNowFake } from '../support/servicenow-fake.js';

const HOUR = 3_600_000;

describe('approval gates', () => {
  let t: TestRuntime;
  let sn: ServiceNowFake;
  let restore: (() => void)[] = [];

  const gate = (env: string): GateConfig => t.runtime.config.environments.find((e) => e.name === env)!.gate;
  /** Change a gate for one test; afterEach puts it back. */
  function editGate(env: string, patch: Partial<GateConfig>): void {
    const g = gate(env);
    const saved = { ...g };
    Object.assign(g, patch);
    restore.push(() => Object.assign(g, saved));
  }
  const state = async (id: string) => (await t.runtime.store.operation(id)).state;

  beforeAll(async () => {
    [t, sn] = await Promise.all([makeRuntime(), ServiceNowFake.start({ user: 'conveyor', password: 'secret' })]);
  });
  afterEach(() => {
    for (const undo of restore.reverse()) undo();
    restore = [];
  });
  afterAll(async () => {
    await Promise.all([t?.close(), sn?.close()]);
  });

  it('refuses self-approval, counts one person once, and needs every role', async () => {
    const asked = await t.run('promote api prod', 'U_DEMO');
    const id = asked.operation!.id;
    expect(asked.operation?.state).toBe('awaiting-approval');

    const self = await t.run(`approve ${id}`, 'U_DEMO');
    expect(self.status).toBe('refused');
    expect(self.title).toContain('you asked for this operation; someone else must approve it');

    const lead = await t.run(`approve ${id}`, 'U_LEAD');
    expect(lead.title).toContain('U_LEAD approved as tech-lead');
    expect(lead.operation?.state).toBe('awaiting-approval');
    const twice = await t.run(`approve ${id}`, 'U_LEAD');
    expect(twice.status).toBe('refused');
    expect(twice.title).toContain('you already approved');
    const outsider = await t.run(`approve ${id}`, 'U_QA');
    expect(outsider.status).toBe('refused');
    expect(outsider.title).toContain('you are not one of the approvers (tech-lead, product-owner)');
    expect(await state(id)).toBe('awaiting-approval');
    expect((await t.runtime.store.approvals(id)).map((a) => a.userId)).toEqual(['U_LEAD']);

    const po = await t.run(`approve ${id}`, 'U_PO');
    expect(po.operation?.state).toBe('succeeded');
    expect(head(t.repo('api'), 'prod')).toBe(head(t.repo('api'), 'staging'));
  });

  it('a user holding two roles fills only one of them per operation', async () => {
    const roles = t.runtime.config.roles;
    roles['tech-lead']!.users.push('U_BOTH');
    roles['product-owner']!.users.push('U_BOTH');
    restore.push(() => {
      for (const r of ['tech-lead', 'product-owner']) roles[r]!.users = roles[r]!.users.filter((u) => u !== 'U_BOTH');
    });
    const id = (await t.run('promote web prod', 'U_DEMO')).operation!.id;
    const first = await t.run(`approve ${id}`, 'U_BOTH');
    expect(first.operation?.state).toBe('awaiting-approval');
    expect(first.text).toMatch(/tech-lead: 1\/1 \(U_BOTH\)/);
    expect(first.text).toContain('product-owner: 0/1');
    const again = await t.run(`approve ${id}`, 'U_BOTH');
    expect(again.status).toBe('refused');
    expect(await state(id)).toBe('awaiting-approval');
    // the tech-lead role is taken: U_LEAD cannot add anything
    expect((await t.run(`approve ${id}`, 'U_LEAD')).title).toContain('the tech-lead approval is already given');
    expect((await t.run(`approve ${id}`, 'U_PO')).operation?.state).toBe('succeeded');
  });

  it('approvals of another version do not count', async () => {
    const id = (await t.run('promote web staging', 'U_DEMO')).operation!.id;
    const other = treeOf(t.repo('web'), 'prod');
    await t.runtime.store.addApproval(id, 'U_QA', 'qa-lead', other);
    expect((await t.runtime.engine.advance(id)).state).toBe('awaiting-approval');
    expect((await t.run(`approve ${id}`, 'U_QA')).operation?.state).toBe('succeeded');
    const tag = tagsAt(t.repo('web'), head(t.repo('web'), 'staging'), 'staging/').find((n) =>
      tagMessage(t.repo('web'), n).includes(id),
    )!;
    expect(tagMessage(t.repo('web'), tag)).toContain('Approved-By: U_QA (qa-lead)');
  });

  it('one rejection ends it; later approvals are refused; the requester can withdraw', async () => {
    const id = (await t.run('promote api staging', 'U_DEMO')).operation!.id;
    const stranger = await t.run(`reject ${id} no`, 'U_PO');
    expect(stranger.status).toBe('refused');
    expect(stranger.title).toContain('only an approver (qa-lead) or the requester can reject');
    const rejected = await t.run(`reject ${id} not ready for staging`, 'U_QA');
    expect(rejected.operation?.state).toBe('rejected');
    expect(rejected.text).toContain('rejected by U_QA: not ready for staging');
    const late = await t.run(`approve ${id}`, 'U_QA');
    expect(late.status).toBe('refused');
    expect(late.title).toContain(`operation ${id} is rejected; there is nothing to approve`);

    const again = (await t.run('promote api staging', 'U_DEMO')).operation!.id; // the lock was released
    expect((await t.run(`reject ${again}`, 'U_DEMO')).operation?.state).toBe('cancelled');
  });

  it('expires after expiresAfter; the lock is released so a new request works', async () => {
    const before = head(t.repo('api'), 'staging');
    const id = (await t.run('promote api staging', 'U_DEMO')).operation!.id;
    t.clock.advance(gate('staging').expiresAfter + HOUR);
    const late = await t.run(`approve ${id}`, 'U_QA');
    expect(late.status).toBe('refused');
    expect(late.text).toContain('expired');
    expect(late.text).toContain('nobody approved in time');
    expect(await state(id)).toBe('expired');
    expect(head(t.repo('api'), 'staging')).toBe(before);

    const fresh = await t.run('promote api staging', 'U_DEMO');
    expect(fresh.operation?.state).toBe('awaiting-approval');
    expect((await t.run(`approve ${fresh.operation!.id}`, 'U_QA')).operation?.state).toBe('succeeded');
  });

  it('an operation nobody touches is expired by the sweep, not left holding the lock', async () => {
    const id = (await t.run('promote web prod', 'U_DEMO')).operation!.id;
    t.clock.advance(25 * HOUR);
    await t.runtime.engine.sweep();
    expect(await state(id)).toBe('expired');
    expect(await t.runtime.store.locksFor('web', 'prod')).toEqual([]);
  });

  it('a freeze refuses promote with its reason but lets an --emergency rollback through', async () => {
    const now = t.clock.now().getTime();
    editGate('prod', {
      freezes: [
        {
          from: new Date(now - HOUR).toISOString(),
          to: new Date(now + HOUR).toISOString(),
          reason: 'quarter-end close',
        },
      ],
    });
    const before = head(t.repo('api'), 'prod');
    const promote = await t.run('promote api prod', 'U_DEMO');
    expect(promote.status).toBe('refused');
    expect(promote.title).toBe('prod is frozen: quarter-end close');
    const plain = await t.run('rollback api prod', 'U_DEMO');
    expect(plain.status).toBe('refused');
    expect(plain.title).toBe('prod is frozen: quarter-end close (an --emergency rollback is allowed)');
    expect((await t.run('promote api prod --dry-run', 'U_DEMO')).title).toBe('prod is frozen: quarter-end close');

    const emergency = await t.run('rollback api prod --emergency', 'U_DEMO');
    expect(emergency.operation?.state).toBe('awaiting-approval');
    expect((await t.run(`approve ${emergency.operation!.id}`, 'U_LEAD')).operation?.state).toBe('succeeded');
    expect(head(t.repo('api'), 'prod')).not.toBe(before);
    expect(await t.runtime.store.operations({ env: 'prod', app: 'api', states: ['awaiting-approval'] })).toEqual([]);
  });

  it('requesters: only the listed roles may ask', async () => {
    editGate('qa', { requesters: ['developer'] });
    const before = head(t.repo('api'), 'qa');
    const outsider = await t.run('promote api qa', 'U_OUTSIDER');
    expect(outsider.status).toBe('refused');
    expect(outsider.title).toBe('only developer may ask for changes in qa');
    expect(head(t.repo('api'), 'qa')).toBe(before);
    expect((await t.run('promote api qa', 'U_DEMO')).operation?.state).toBe('succeeded');
  });

  it('changeTicket: required; ServiceNow verdicts missing / pending / approved; the ticket lands in the tag', async () => {
    editGate('prod', { changeTicket: 'required' });
    const saved = t.runtime.tickets;
    t.runtime.tickets = new ServiceNowTickets({
      baseUrl: sn.url,
      auth: { user: 'conveyor', password: 'secret' },
      retries: 0,
    });
    t.runtime.engine.deps.tickets = t.runtime.tickets;
    restore.push(() => {
      t.runtime.tickets = saved;
      t.runtime.engine.deps.tickets = saved;
    });
    sn.setTicket('CHG0000002', { state: 'Assess', approval: 'requested' });
    sn.setTicket('CHG0000003', { state: 'Implement', approval: 'approved' });

    const none = await t.run('promote web prod', 'U_DEMO');
    expect(none.status).toBe('refused');
    expect(none.title).toBe('prod needs a change ticket: add --ticket CHG…');
    const missing = await t.run('promote web prod --ticket CHG0000001', 'U_DEMO');
    expect(missing.status).toBe('refused');
    expect(missing.title).toContain('change ticket CHG0000001 is missing');
    const pending = await t.run('promote web prod --ticket CHG0000002', 'U_DEMO');
    expect(pending.status).toBe('refused');
    expect(pending.title).toContain('change ticket CHG0000002 is pending (state=Assess approval=requested)');
    expect(await t.runtime.store.operations({ app: 'web', env: 'prod', states: ['awaiting-approval'] })).toEqual([]);

    const ok = await t.run('promote web prod --ticket CHG0000003', 'U_DEMO');
    expect(ok.operation?.state).toBe('awaiting-approval');
    expect(ok.text).toContain('ticket CHG0000003');
    await t.run(`approve ${ok.operation!.id}`, 'U_LEAD');
    expect((await t.run(`approve ${ok.operation!.id}`, 'U_PO')).operation?.state).toBe('succeeded');
    const repo = t.repo('web');
    const tag = tagsAt(repo, head(repo, 'prod'), 'prod/').find((n) => tagMessage(repo, n).includes(ok.operation!.id))!;
    expect(tagMessage(repo, tag)).toContain('Change-Ticket: CHG0000003');
    // checked at the request, and again right before the first write
    expect(sn.requests.map((r) => r.query.sysparm_query)).toEqual([
      'number=CHG0000001',
      'number=CHG0000002',
      'number=CHG0000003',
      'number=CHG0000003',
    ]);

    // a ticket withdrawn while the request waited stops it at approval: nothing is written
    sn.setTicket('CHG0000004', { state: 'Implement', approval: 'approved' });
    const later = await t.run('rollback web prod --ticket CHG0000004', 'U_DEMO');
    expect(later.operation?.state).toBe('awaiting-approval');
    sn.setTicket('CHG0000004', { state: 'Assess', approval: 'rejected' });
    const before = head(repo, 'prod');
    await t.run(`approve ${later.operation!.id}`, 'U_LEAD');
    const last = await t.run(`approve ${later.operation!.id}`, 'U_PO');
    expect(last.operation?.state).toBe('failed');
    expect(last.text).toContain('change ticket CHG0000004 is no longer approved (rejected');
    expect(head(repo, 'prod')).toBe(before);
  });
});
