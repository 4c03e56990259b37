/**
 * The engine's state handlers (src/core/engine/), each against the in-memory store and Git host:
 * what each state moves to, in the machine's order. The engine's own wiring of them is covered by
 * the integration stories (promote, pull requests, approvals, kill and resume).
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import { handlerFor, STATE_HANDLERS } from '../../../src/core/engine/index.js';
import type { EngineMoves } from '../../../src/core/engine/state-handler.js';
import { gateContext } from '../../../src/core/gates/context.js';
import { FINAL_STATES, OPERATION_STATES, type Operation, type OperationState } from '../../../src/core/operation.js';
import { MemoryDirectory } from '../../fakes/memory-directory.js';
import { gitOperation } from '../steps/step-fixture.js';

const GATE = { expiresAfter: 3_600_000, changeTicket: 'none', freezes: [], requesters: [], requireChecks: false };

/** The handlers' view of an engine over the fakes; `roles` is the qa gate's. */
async function setup(options: { roles?: Record<string, number>; pullRequests?: boolean; verify?: boolean } = {}) {
  const t = await gitOperation({ pullRequests: options.pullRequests });
  const config = {
    git: { tagFormat: '{env}/{yyyy}.{mm}.{dd}.{n}' },
    roles: { 'qa-lead': { users: ['U_QA'], groups: [] } },
    environments: [
      { name: 'qa', branch: 'qa', verify: { timeout: 60_000 }, gate: { ...GATE, roles: options.roles ?? {} } },
    ],
  } as unknown as Config;
  /** Every state moved to, those passed through included; `writes`: how many transitions stored them. */
  const moved: OperationState[] = [];
  let writes = 0;
  const applied: string[] = [];
  const sources = { config, clock: t.clock, directory: new MemoryDirectory({}) };
  const engine: EngineMoves = {
    deps: { store: t.store, config, clock: t.clock, git: t.engine.deps.git, tickets: null },
    async move(op, to, extra) {
      moved.push(...(extra?.through ?? []), to);
      writes++;
      return t.store.transition(op.id, to, 'conveyor', extra);
    },
    required: () => options.roles ?? {},
    gateContext: (phase, op, extra) =>
      gateContext(
        sources,
        phase,
        { ...op, emergency: false },
        {
          operation: { id: op.id, state: op.state, expiresAt: op.expiresAt },
          ...extra,
        },
      ),
    async apply(op) {
      applied.push(op.id);
      return 'done';
    },
    afterApplied: () => (options.verify ? 'verifying' : 'succeeded'),
  };
  const handle = async (op?: Operation) => {
    const current = op ?? (await t.store.operation(t.op.id));
    return handlerFor(current.state)!.handle(current, engine);
  };
  const audited = () =>
    t.store.auditRows
      .filter((a) => a.action.startsWith('operation.') && a.detail.from)
      .map((a) => `${a.detail.from} → ${a.action.slice(10)}`);
  return { ...t, engine, moved, applied, handle, audited, writes: () => writes };
}

describe('engine state handlers', () => {
  it('one handler per state that moves on by itself, in the order of the state machine; none for final states', () => {
    expect(STATE_HANDLERS.map((h) => h.state)).toEqual(OPERATION_STATES.filter((s) => !FINAL_STATES.has(s)));
    for (const s of FINAL_STATES) expect(handlerFor(s)).toBeUndefined();
  });

  it('requested: where the gate wants nobody, through approved to applying in one write, each move audited; else awaiting approval', async () => {
    const free = await setup();
    expect(await free.handle()).toBe(true);
    expect(free.moved).toEqual(['approved', 'applying']);
    expect(free.writes()).toBe(1);
    expect(free.audited()).toEqual(['requested → approved', 'approved → applying']);
    expect((await free.reload()).state).toBe('applying');
    const gated = await setup({ roles: { 'qa-lead': 1 } });
    await gated.handle();
    expect(gated.moved).toEqual(['awaiting-approval']);
  });

  it('requested, in a pull-request environment: the pull request is opened before the gate', async () => {
    const { handle, host, reload, moved } = await setup({ roles: { 'qa-lead': 1 }, pullRequests: true });
    await handle();
    expect(host.prs.size).toBe(1);
    expect((await reload()).progress.prNumber).toBe(1);
    expect(moved).toEqual(['awaiting-approval']);
  });

  it('awaiting approval: waits for the quorum, then approved', async () => {
    const { handle, store, op, moved } = await setup({ roles: { 'qa-lead': 1 } });
    await handle();
    expect(await handle()).toBe(false);
    await store.addApproval(op.id, 'U_QA', 'qa-lead', 'T1');
    expect(await handle()).toBe(true);
    expect(moved).toEqual(['awaiting-approval', 'approved']);
  });

  it('awaiting approval: a push to the pull request lapses the approvals given for the old version', async () => {
    const { handle, store, host, op, reload, source } = await setup({ roles: { 'qa-lead': 1 }, pullRequests: true });
    await handle();
    await store.addApproval(op.id, 'U_QA', 'qa-lead', 'T1');
    const pushed = host.commit_('T2', [source]);
    host.prs.get(1)!.headSha = pushed;
    expect(await handle()).toBe(false);
    const after = await reload();
    expect(after.plan.sourceTree).toBe('T2');
    expect(after.progress.newSha).toBe(pushed);
    expect(store.auditRows.map((a) => a.action)).toContain('approvals.lapsed');
  });

  it('awaiting approval: a pull request closed by hand cancels', async () => {
    const { handle, host, moved } = await setup({ roles: { 'qa-lead': 1 }, pullRequests: true });
    await handle();
    await host.closePullRequest(1);
    await handle();
    expect(moved).toEqual(['awaiting-approval', 'cancelled']);
  });

  it('applying → applied → succeeded in one write after the steps (each move audited), or verifying where the controller watches', async () => {
    const plain = await setup();
    for (let i = 0; i < 2; i++) await plain.handle();
    expect(plain.moved).toEqual(['approved', 'applying', 'applied', 'succeeded']);
    expect(plain.writes()).toBe(2);
    expect(plain.applied).toHaveLength(1);
    expect(plain.audited()).toEqual([
      'requested → approved',
      'approved → applying',
      'applying → applied',
      'applied → succeeded',
    ]);
    const watched = await setup({ verify: true });
    for (let i = 0; i < 2; i++) await watched.handle();
    expect(watched.moved.slice(-2)).toEqual(['applied', 'verifying']);
  });

  it('resumed in approved (approvals given) or in applied (a crash after that write): each moves on as before', async () => {
    const approvedBefore = await setup({ roles: { 'qa-lead': 1 } });
    await approvedBefore.store.transition(approvedBefore.op.id, 'approved', 'conveyor');
    expect(await approvedBefore.handle()).toBe(true);
    expect(approvedBefore.moved).toEqual(['applying']);
    const appliedBefore = await setup({ verify: true });
    for (const s of ['approved', 'applying', 'applied'] as const)
      await appliedBefore.store.transition(appliedBefore.op.id, s, 'conveyor');
    expect(await appliedBefore.handle()).toBe(true);
    expect(appliedBefore.moved).toEqual(['verifying']);
    expect(appliedBefore.applied).toEqual([]); // nothing applied twice
  });

  it("verifying: waits for the controller's verdict until the environment's verify timeout, then failed", async () => {
    const { handle, clock, moved, store, op } = await setup({ verify: true });
    for (let i = 0; i < 2; i++) await handle();
    clock.advance(59_000);
    expect(await handle()).toBe(false);
    clock.advance(2_000);
    expect(await handle()).toBe(true);
    expect(moved.at(-1)).toBe('failed');
    expect((await store.operation(op.id)).error).toBe('the rollout did not become healthy within 60s');
  });
});
