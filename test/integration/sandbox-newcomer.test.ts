/**
 * What a new user met trying the sandbox with only the README, driven through the dispatcher on
 * the sandbox configuration (real Git, the embedded store): each `it` is one dead end or untrue
 * answer they found.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderMatrix } from '../../src/adapters/slack-matrix-blocks.js';
import type { MatrixView } from '../../src/core/reply.js';
import { SANDBOX_VIEWER, Visibility } from '../../src/core/visibility.js';
import { matrixPage } from '../../src/server/board/pages.js';
import { head, pushCommit, treeOf } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const suggestions = (reply: { data?: unknown }) =>
  (reply.data as { suggestions?: string[] } | undefined)?.suggestions ?? [];

describe('the sandbox, as a new user meets it', () => {
  let t: TestRuntime;
  beforeEach(async () => {
    t = await makeRuntime();
  });
  afterEach(async () => t?.close());

  /** Ask as U_DEMO and approve as each approver in turn; returns the final state. */
  async function shipped(command: string, approvers: string[]): Promise<string | undefined> {
    const asked = await t.run(command, 'U_DEMO');
    expect(asked.status, asked.text).toBe('ok');
    let state = asked.operation?.state;
    for (const who of approvers)
      if (state === 'awaiting-approval') state = (await t.run(`approve ${asked.operation!.id}`, who)).operation?.state;
    return state;
  }

  it('after an emergency rollback of prod, the refusal names a way out that leads somewhere, for everyone', async () => {
    const repo = t.repo('api');
    expect(await shipped('promote api prod', ['U_LEAD', 'U_PO'])).toBe('succeeded');
    const bad = treeOf(repo, 'prod');
    expect(await shipped('rollback api prod --emergency', ['U_LEAD'])).toBe('succeeded');
    expect(treeOf(repo, 'prod')).not.toBe(bad);

    for (const user of ['U_DEMO', 'U_LEAD', 'U_PO', 'U_QA']) {
      const refused = await t.run('promote api prod', user);
      expect(refused.status).toBe('refused');
      expect(refused.title).toContain('was rolled back from in prod, so it does not move on to prod');
      // The way out that works in the sandbox: a newer version.
      expect(refused.title).toContain('a newer version is not held back: commit a fix and promote it from development');
      // Nobody in the sandbox can force it through (one tech-lead, one product-owner): no --force is offered.
      expect(refused.title, user).toContain('--force would not help');
      expect(refused.title).not.toMatch(/may ship (it|this one) anyway/);
      expect(suggestions(refused)).toEqual([]);
      // Whatever diff suggests to this user, Conveyor accepts from them.
      const diff = await t.run('diff staging prod api', user);
      expect(diff.text).toContain('a newer version is not held back');
      for (const command of suggestions(diff)) {
        const dry = await t.run(`${command} --dry-run`, user);
        expect(dry.status, `${user}: "${command}" was suggested: ${dry.title}`).toBe('ok');
      }
    }

    // ...and it does lead somewhere: a fix committed to develop reaches prod stage by stage.
    const fix = pushCommit(repo, 'develop', { path: 'src/fix.ts', content: 'export const fixed = true;\n' });
    expect(await shipped('promote api qa', [])).toBe('succeeded');
    expect(await shipped('promote api staging', ['U_QA'])).toBe('succeeded');
    expect(await shipped('promote api prod', ['U_LEAD', 'U_PO'])).toBe('succeeded');
    expect(treeOf(repo, 'prod')).toBe(treeOf(repo, fix));
    expect(head(repo, 'prod')).not.toBe('');
  });

  it('with a second tech-lead, --force is offered to the tech-leads who can use it, by name', async () => {
    t.config.roles['tech-lead']!.users.push('U_LEAD2');
    expect(await shipped('promote api prod', ['U_LEAD', 'U_PO'])).toBe('succeeded');
    expect(await shipped('rollback api prod --emergency', ['U_LEAD'])).toBe('succeeded');
    const asDemo = await t.run('promote api prod', 'U_DEMO');
    expect(asDemo.title).toContain('only U_LEAD or U_LEAD2 (tech-lead) may ship this one anyway, with --force');
    // the only product-owner could not get another product-owner's approval: not offered --force
    const asPo = await t.run('promote api prod', 'U_PO');
    expect(asPo.title).toContain('only U_LEAD or U_LEAD2 (tech-lead) may ship this one anyway, with --force');
    expect(suggestions(asPo)).toEqual([]);
    const asLead = await t.run('promote api prod', 'U_LEAD');
    expect(suggestions(asLead)).toEqual(['promote api prod --force']);
    const forced = await t.run('promote api prod --force', 'U_LEAD');
    expect(forced.operation?.state).toBe('awaiting-approval');
    await t.run(`approve ${forced.operation!.id}`, 'U_PO');
    expect((await t.run(`approve ${forced.operation!.id}`, 'U_LEAD2')).operation?.state).toBe('succeeded');
  });

  it('a promotion refused because another operation holds prod is recorded as busy with it, not "locked"', async () => {
    const first = await t.run('promote api prod', 'U_DEMO');
    expect(first.operation?.state).toBe('awaiting-approval');
    const busy = `api in prod is busy with promote ${first.operation!.id} (asked by U_DEMO)`;
    const second = await t.run('promote api prod', 'U_QA');
    expect(second.status).toBe('refused');
    expect(second.title).toBe(busy);
    const history = await t.run('history api prod', 'U_DEMO');
    const cancelled = history.text.split('\n').find((l) => l.includes(' cancelled '));
    expect(cancelled).toContain(busy);
    expect(history.text).not.toMatch(/\blocked\b/);
    const [record] = await t.runtime.store.operations({ app: 'api', env: 'prod', states: ['cancelled'] });
    expect(record?.error).toBe(busy);
  });

  it("list's age is how long the environment has run the version, or says it is the commit's age", async () => {
    type Row = { app: string; env: string; age: string };
    const rows = async () => ((await t.run('list api')).data as { rows: Row[] }).rows;
    const ageOf = (all: Row[], env: string) => all.find((r) => r.env === env)!.age;
    const before = await rows();
    // develop carries no deploy tag: its commit is about 5 hours old, and the cell says it is the commit's age
    expect(ageOf(before, 'development')).toBe('commit 4h ago');
    expect(ageOf(before, 'prod')).toBe('21d ago');
    // qa now runs develop's 4-hour-old commit, deployed just now
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const reply = await t.run('list api');
    const after = (reply.data as { rows: Row[] }).rows;
    expect(ageOf(after, 'qa')).toMatch(/^\d+s ago$/);
    expect(reply.text).toMatch(/^api\s+qa\s+qa\/\S+\s+[0-9a-f]{8}\s+\d+s ago\s/m);
    expect(reply.text).toMatch(/^api\s+development\s+—\s+[0-9a-f]{8}\s+commit 4h ago\s/m);
    // Slack: the same, in a phone's words
    const slack = JSON.stringify(renderMatrix(reply.title, reply.matrix as MatrixView, 50));
    expect(slack).toMatch(/qa\/[^`]+` · deployed \d+s/);
    expect(slack).toContain('` · commit 4h');
    expect(slack).toContain('` · deployed 21d');
    // the board's matrix
    const board = await matrixPage(
      { runtime: t.runtime, db: t.runtime.state.db },
      new Visibility(t.config, SANDBOX_VIEWER),
    );
    expect(board.body.text).toMatch(/ · deployed \d+s ago</);
    expect(board.body.text).toContain(' · commit 4h ago<');
  });
});
