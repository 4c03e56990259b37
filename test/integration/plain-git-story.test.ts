/**
 * The whole story on plain Git, checked with plain `git` against the bare repository:
 * develop → qa → staging (qa-lead) → prod (tech-lead + product-owner, the bot's own gate
 * standing in for a pull request), a rollback, an emergency rollback, and a promotion after a
 * rollback (one new commit with the source's tree, nothing rewritten). --dry-run changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trailer } from '../../src/core/deploy-tag.js';
import {
  git,
  head,
  isAncestor,
  parentsOf,
  refsOf,
  tagMessage,
  tagsAt,
  tagType,
  treeOf,
} from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

/** The one deploy tag on `sha` written by operation `opId`, with its parsed trailers. */
function deployTagOf(repo: string, env: string, sha: string, opId: string) {
  const names = tagsAt(repo, sha, `${env}/`).filter((n) => tagMessage(repo, n).includes(`Operation: ${opId}`));
  expect(names).toHaveLength(1);
  const name = names[0]!;
  expect(name).toMatch(new RegExp(`^${env}/\\d{4}\\.\\d{2}\\.\\d{2}\\.\\d+$`));
  expect(tagType(repo, name)).toBe('tag'); // annotated
  const message = tagMessage(repo, name);
  const field = (f: string) => trailer(message, f);
  return {
    name,
    message,
    source: field('Source-Commit'),
    operation: field('Operation'),
    kind: field('Kind'),
    requestedBy: field('Requested-By'),
    approvedBy: field('Approved-By'),
  };
}

/** Names of refs added, moved or deleted between two `refsOf` snapshots. */
function changedRefs(before: string, after: string): string[] {
  const map = (text: string) => new Map(text.split('\n').map((l) => [l.split(' ')[2]!, l] as const));
  const a = map(before);
  const b = map(after);
  return [...new Set([...a.keys(), ...b.keys()])].filter((name) => a.get(name) !== b.get(name));
}

describe('the promotion story on plain Git', () => {
  let t: TestRuntime;
  let repo: string;
  let originalProd: string;
  const prodHeads: string[] = [];

  beforeAll(async () => {
    // A second tech-lead, so a tech-lead may force a version past a rollback and another approve it.
    t = await makeRuntime({ edit: (c) => c.roles['tech-lead'].users.push('U_LEAD2') });
    repo = t.repo('api');
    originalProd = head(repo, 'prod');
    prodHeads.push(originalProd);
  });
  afterAll(async () => t?.close());

  it('--dry-run prints the plan and changes nothing', async () => {
    const before = refsOf(repo);
    const reply = await t.run('promote api qa --dry-run');
    expect(reply.status).toBe('ok');
    expect(reply.text).toContain(
      'dry run: promote api → qa would be accepted; this is what it would do (nothing was changed)',
    );
    expect(reply.text).toContain(`qa: ${head(repo, 'qa').slice(0, 8)} → ${head(repo, 'develop').slice(0, 8)}`);
    expect(reply.text).toContain('pushed directly (no force)');
    expect(reply.text).toMatch(/deploy tag: qa\/\d{4}\.\d{2}\.\d{2}\.1 \(annotated\)/);
    expect(reply.text).toContain('Fix timezone in reports');
    expect(refsOf(repo)).toBe(before);
    expect(await t.runtime.store.operations()).toHaveLength(0);
  });

  it('development → qa: fast-forward and a deploy tag, nothing else moves', async () => {
    const before = refsOf(repo);
    const develop = head(repo, 'develop');
    const reply = await t.run('promote api qa', 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    expect(head(repo, 'qa')).toBe(develop);
    const tag = deployTagOf(repo, 'qa', develop, reply.operation!.id);
    expect(tag).toMatchObject({
      source: develop,
      operation: reply.operation!.id,
      kind: 'promote',
      requestedBy: 'U_DEMO',
      approvedBy: '(no approval required)',
    });
    expect(changedRefs(before, refsOf(repo)).sort()).toEqual(['refs/heads/qa', `refs/tags/${tag.name}`].sort());
  });

  it('qa → staging waits for the qa-lead, then fast-forwards', async () => {
    const qa = head(repo, 'qa');
    const before = refsOf(repo);
    const asked = await t.run('promote api staging', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    expect(asked.text).toContain('qa-lead: 0/1');
    expect(refsOf(repo)).toBe(before);
    const approved = await t.run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(approved.title).toContain('U_QA approved as qa-lead');
    expect(approved.operation?.state).toBe('succeeded');
    expect(head(repo, 'staging')).toBe(qa);
    expect(deployTagOf(repo, 'staging', qa, asked.operation!.id)).toMatchObject({
      source: qa,
      requestedBy: 'U_DEMO',
      approvedBy: 'U_QA (qa-lead)',
    });
  });

  it('staging → prod needs both the tech-lead and the product-owner (the gate stands in for the PR)', async () => {
    const staging = head(repo, 'staging');
    const before = refsOf(repo);
    const asked = await t.run('promote api prod', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    const id = asked.operation!.id;
    const first = await t.run(`approve ${id}`, 'U_LEAD');
    expect(first.operation?.state).toBe('awaiting-approval');
    expect(first.text).toContain('product-owner: 0/1');
    expect(refsOf(repo)).toBe(before);
    const second = await t.run(`approve ${id}`, 'U_PO');
    expect(second.operation?.state).toBe('succeeded');
    expect(head(repo, 'prod')).toBe(staging);
    expect(isAncestor(repo, originalProd, staging)).toBe(true);
    const tag = deployTagOf(repo, 'prod', staging, id);
    expect(tag).toMatchObject({ source: staging, operation: id, kind: 'promote', requestedBy: 'U_DEMO' });
    expect(tag.approvedBy).toContain('U_LEAD (tech-lead)');
    expect(tag.approvedBy).toContain('U_PO (product-owner)');
    prodHeads.push(staging);
  });

  it("rollback api prod: one new commit with the previous version's tree, both approvals", async () => {
    const previous = head(repo, 'prod');
    const asked = await t.run('rollback api prod', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    const id = asked.operation!.id;
    expect((await t.run(`approve ${id}`, 'U_LEAD')).operation?.state).toBe('awaiting-approval');
    expect((await t.run(`approve ${id}`, 'U_PO')).operation?.state).toBe('succeeded');
    const now = head(repo, 'prod');
    expect(parentsOf(repo, now)).toEqual([previous]);
    expect(treeOf(repo, now)).toBe(treeOf(repo, originalProd));
    const tag = deployTagOf(repo, 'prod', now, id);
    expect(tag).toMatchObject({ source: originalProd, kind: 'rollback', requestedBy: 'U_DEMO' });
    expect(tag.approvedBy).toContain('U_LEAD (tech-lead)');
    expect(tag.approvedBy).toContain('U_PO (product-owner)');
    prodHeads.push(now);
    // `history`'s table names each operation's approvers (read for all its rows at once).
    const row = (await t.run('history')).text.split('\n').find((line) => line.includes(id));
    expect(row).toContain('rollback');
    expect(row).toMatch(/succeeded +U_LEAD \(tech-lead\), U_PO \(product-owner\)$/);
  });

  it('the version prod rolled back from does not come back by itself; a tech-lead may force it', async () => {
    const previous = head(repo, 'prod');
    const staging = head(repo, 'staging');
    const before = refsOf(repo);
    const refused = await t.run('promote api prod', 'U_DEMO');
    expect(refused.status).toBe('refused');
    expect(refused.title).toMatch(
      /was rolled back from in prod.*only U_LEAD or U_LEAD2 \(tech-lead\) may ship this one anyway, with --force/,
    );
    expect((await t.run('promote api prod --dry-run', 'U_DEMO')).title).toBe(refused.title);
    expect(refsOf(repo)).toBe(before);

    const dry = await t.run('promote api prod --force --dry-run', 'U_LEAD');
    expect(dry.status).toBe('ok');
    expect(dry.text).toContain(
      `prod: ${previous.slice(0, 8)} → a new commit on top with the tree of ${staging.slice(0, 8)}`,
    );
    expect(dry.text).toContain('forced past the rollback in prod');
    expect(refsOf(repo)).toBe(before);

    const asked = await t.run('promote api prod --force', 'U_LEAD');
    const id = asked.operation!.id;
    expect(asked.text).toContain('new commit with the same tree');
    await t.run(`approve ${id}`, 'U_PO');
    expect((await t.run(`approve ${id}`, 'U_LEAD2')).operation?.state).toBe('succeeded');
    const now = head(repo, 'prod');
    expect(git(repo, 'rev-list', '--count', `${previous}..${now}`)).toBe('1');
    expect(parentsOf(repo, now)).toEqual([previous]);
    expect(treeOf(repo, now)).toBe(treeOf(repo, staging));
    expect(git(repo, 'log', '-1', '--format=%B', now)).toContain(`Conveyor-Operation: ${id}`);
    const tag = deployTagOf(repo, 'prod', now, id);
    expect(tag).toMatchObject({ source: staging, kind: 'promote', requestedBy: 'U_LEAD' });
    expect(tag.approvedBy).toContain('U_LEAD2 (tech-lead)');
    expect(tag.approvedBy).toContain('U_PO (product-owner)');
    prodHeads.push(now);
  });

  it('rollback --emergency needs only the tech-lead', async () => {
    const previous = head(repo, 'prod');
    const asked = await t.run('rollback api prod --emergency', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    expect(asked.text).toContain('EMERGENCY');
    expect(asked.text).toContain('tech-lead: 0/1');
    expect(asked.text).not.toContain('product-owner');
    const approved = await t.run(`approve ${asked.operation!.id}`, 'U_LEAD');
    expect(approved.operation?.state).toBe('succeeded');
    const now = head(repo, 'prod');
    expect(parentsOf(repo, now)).toEqual([previous]);
    expect(treeOf(repo, now)).toBe(treeOf(repo, originalProd));
    const tag = deployTagOf(repo, 'prod', now, asked.operation!.id);
    expect(tag).toMatchObject({ kind: 'rollback', requestedBy: 'U_DEMO', approvedBy: 'U_LEAD (tech-lead)' });
    prodHeads.push(now);
  });

  it('rewrote no history: every prod head seen is an ancestor of the last, every tag is where it was', () => {
    const last = head(repo, 'prod');
    for (const h of prodHeads) expect(isAncestor(repo, h, last)).toBe(true);
    expect(git(repo, 'rev-list', '--count', `${originalProd}..${last}`)).toBe(String(4 + 3)); // c2…c5 by fast-forward, then rollback, promote, rollback;
    // the sandbox's own deploy tags still point where they did
    const sandboxProdTag = tagsAt(repo, originalProd, 'prod/');
    expect(sandboxProdTag.length).toBeGreaterThanOrEqual(1);
    expect(git(repo, 'rev-parse', `${sandboxProdTag[0]}^{commit}`)).toBe(originalProd);
  });
});
