/**
 * `audit [--since] [--action]` through the dispatcher: the newest lines first, the filters, a
 * clear refusal of a bad --since, and (outside the sandbox) only the lines of environments the
 * caller's roles may see — the same rule as the web board and GET /api/audit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

type Line = { action: string; operationId: string | null; actor: string };
const linesOf = (reply: { data?: unknown }) => (reply.data as { lines: Line[] }).lines;

describe('audit in the sandbox', () => {
  let t: TestRuntime;
  let qaOp = '';
  let stagingOp = '';
  beforeAll(async () => {
    t = await makeRuntime();
    qaOp = (await t.run('promote api qa')).operation!.id;
    stagingOp = (await t.run('promote api staging')).operation!.id;
    await t.run(`approve ${stagingOp}`, 'U_QA');
  });
  afterAll(async () => t?.close());

  it('shows who did what, newest first', async () => {
    const reply = await t.run('audit');
    expect(reply.status).toBe('ok');
    const lines = linesOf(reply);
    expect(lines[0]).toMatchObject({ action: 'operation.succeeded', operationId: stagingOp });
    expect(lines.at(-1)).toMatchObject({ action: 'operation.requested', operationId: qaOp, actor: 'U_DEMO' });
    expect(reply.text).toContain('approval.given');
    expect(reply.text).toContain('U_QA');
  });

  it('--action keeps one action, or every action under a prefix', async () => {
    const given = linesOf(await t.run('audit --action approval.given'));
    expect(given.map((l) => [l.action, l.actor, l.operationId])).toEqual([['approval.given', 'U_QA', stagingOp]]);
    const ops = linesOf(await t.run('audit --action operation.'));
    expect(ops.length).toBeGreaterThan(4);
    expect(ops.every((l) => l.action.startsWith('operation.'))).toBe(true);
  });

  it('--since leaves out older lines and refuses what is not a time', async () => {
    t.clock.advance(3 * 3_600_000);
    expect(linesOf(await t.run('audit --since 2h'))).toEqual([]);
    expect(linesOf(await t.run('audit --since 4h')).length).toBeGreaterThan(0);
    const bad = await t.run('audit --since yesterday');
    expect(bad.status).toBe('usage');
    expect(bad.title).toMatch(/^--since: an ISO time \(2026-11-25T08:00:00Z\), a date \(2026-11-25\) or a duration/);
    // A day that does not exist, or a time no audit line can have, is refused the same way.
    for (const since of ['2026-02-31', '1969-12-31', '999999d', '2026-11-25T08:00'])
      expect((await t.run(`audit --since ${since}`)).status, since).toBe('usage');
    expect((await t.run('audit --since 2026-11-25T08:00:00+01:00')).status).toBe('ok');
  });
});

describe('audit outside the sandbox: by role', () => {
  let t: TestRuntime;
  let stagingOp = '';
  let prodOp = '';
  beforeAll(async () => {
    t = await makeRuntime({ extra: { sandbox: false } });
    await t.run('promote api qa');
    stagingOp = (await t.run('promote api staging')).operation!.id;
    await t.run(`approve ${stagingOp}`, 'U_QA');
    prodOp = (await t.run('promote api prod')).operation!.id;
  });
  afterAll(async () => t?.close());

  it("a QA lead sees staging and the open environments, not prod's request", async () => {
    const ops = new Set(linesOf(await t.run('audit', 'U_QA')).map((l) => l.operationId));
    expect(ops.has(stagingOp)).toBe(true);
    expect(ops.has(prodOp)).toBe(false);
  });

  it("a tech lead sees prod's request", async () => {
    const ops = new Set(linesOf(await t.run('audit', 'U_LEAD')).map((l) => l.operationId));
    expect(ops.has(prodOp)).toBe(true);
  });

  it('someone with no role sees nothing', async () => {
    const reply = await t.run('audit', 'U_OUTSIDER');
    expect(reply.status).toBe('ok');
    expect(linesOf(reply)).toEqual([]);
    expect(reply.title).toMatch(/No audit line you may see/);
  });
});
