/**
 * Hostile arguments in every position a user types: each is refused at the edge (or, for
 * free-text reasons, stored and shown literally and escaped for Slack). Nothing reaches a
 * shell or a Git option: a marker file a command would create never appears, and the bare
 * repositories' refs are byte-for-byte what they were.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReplyBlocks } from '../../src/adapters/slack-blocks.js';
import { InputError } from '../../src/core/errors.js';
import { head, refsOf } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('hostile input', () => {
  let t: TestRuntime;
  let markerDir: string;
  let marker: string;
  const shared = '/tmp/conveyor-pwned';
  const sharedExisted = existsSync(shared);
  let before: Record<string, string>;

  const hostile = () => [
    `--upload-pack=touch ${marker}`,
    `--exec=touch ${marker}`,
    `--output=${marker}`,
    '../x',
    '-x',
    'a..b',
    `qa;touch ${marker}`,
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `x|touch ${marker}`,
    'refs/heads/qa',
    'HEAD@{1}',
    'qa\u0000prod',
    'qa\u001b[31m',
    'qa\u202eevil',
    '<!channel>',
    `@{-1}`,
    'x'.repeat(200),
    'a'.repeat(5000),
  ];

  /** Quote a value for the command grammar: double quotes, backslash-escaped. */
  const q = (v: string) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;

  beforeAll(async () => {
    t = await makeRuntime();
    markerDir = mkdtempSync(join(tmpdir(), 'conveyor-marker-'));
    marker = join(markerDir, 'pwned');
    before = { api: refsOf(t.repo('api')), web: refsOf(t.repo('web')) };
  });
  afterAll(async () => {
    await t?.close();
    rmSync(markerDir, { recursive: true, force: true });
  });

  const positions: [string, (v: string) => string][] = [
    ['app', (v) => `promote ${q(v)} qa`],
    ['env', (v) => `promote api ${q(v)}`],
    ['version', (v) => `promote api qa --version ${q(v)}`],
    ['version=', (v) => `promote api qa --version=${q(v)}`],
    ['rollback tag', (v) => `rollback api qa --to ${q(v)}`],
    ['ticket', (v) => `promote api staging --ticket ${q(v)}`],
    ['diff env', (v) => `diff ${q(v)} qa api`],
    ['diff app', (v) => `diff development qa ${q(v)}`],
    ['operation id', (v) => `approve ${q(v)}`],
    ['lock app', (v) => `lock ${q(v)} qa`],
    ['history app', (v) => `history ${q(v)}`],
  ];

  for (const [position, command] of positions) {
    it(`refuses hostile values as ${position}`, async () => {
      for (const value of hostile()) {
        const reply = await t.run(command(value), 'U_DEMO');
        expect.soft(reply.status, `${position}: ${JSON.stringify(value.slice(0, 60))}`).not.toBe('ok');
        expect(reply.operation).toBeUndefined();
        // the refusal is one short line that never echoes a huge value back
        expect(reply.title.length).toBeLessThan(400);
      }
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('refuses unknown flags and raw control characters in the command line itself', async () => {
    for (const text of [
      `promote api qa --upload-pack=${q(`touch ${marker}`)}`,
      `promote api qa --config=${marker}`,
      'promote api qa\u0007',
      'promote\u0000 api qa',
      'promote api qa\r\nrollback api prod',
      `promote api qa ${'x'.repeat(4100)}`,
    ]) {
      const reply = await t.run(text, 'U_DEMO');
      expect(reply.status).toBe('usage');
    }
    for (const user of ['U_DEMO;rm', '$(id)', '', 'U'.repeat(65), '../U_LEAD']) {
      expect((await t.run('promote api qa', user)).status).toBe('usage');
    }
  });

  it('keeps free-text reasons inert: stored literally, escaped for Slack, never run', async () => {
    const reason = `$(touch ${marker}) \`touch ${marker}\` <!channel> <@U_LEAD> & ; rm -rf /`;
    const locked = await t.run(`lock api qa ${q(reason)}`, 'U_DEMO');
    expect(locked.status).toBe('ok');
    expect(locked.title).toBe(`Locked api in qa: ${reason}`);
    const slack = JSON.stringify(renderReplyBlocks(locked));
    expect(slack).not.toContain('<!channel>');
    expect(slack).toContain('&lt;!channel&gt;');
    expect(slack).not.toContain('<@U_LEAD>');
    const refused = await t.run('promote api qa', 'U_DEMO');
    expect(refused.title).toBe(`api in qa is locked by U_DEMO: ${reason}`);
    expect((await t.run('unlock api qa', 'U_DEMO')).status).toBe('ok');

    const asked = await t.run('promote api staging', 'U_DEMO');
    // unquoted, "-rf" reads as an unknown option: refused, nothing happens
    expect((await t.run(`reject ${asked.operation!.id} please rm -rf /`, 'U_QA')).status).toBe('usage');
    const rejected = await t.run(`reject ${asked.operation!.id} ${q(reason)}`, 'U_QA');
    expect(rejected.operation?.state, rejected.text).toBe('rejected');
    expect(rejected.text).toContain(reason);
    expect(JSON.stringify(renderReplyBlocks(rejected))).not.toContain('<!channel>');
    const long = await t.run(`lock web qa ${'r'.repeat(600)}`, 'U_DEMO');
    expect(long.status).toBe('usage');
    expect(long.title).toContain('at most 500 characters');
    expect(existsSync(marker)).toBe(false);
  });

  it('the Git layer itself refuses option-like and traversing names', async () => {
    const host = t.runtime.git.get('api')!;
    const sha = head(t.repo('api'), 'qa');
    for (const bad of [`--upload-pack=touch ${marker}`, '-x', '../x', 'a..b', `qa;touch ${marker}`]) {
      await expect(host.resolve(bad)).rejects.toBeInstanceOf(InputError);
      await expect(host.branchHead(bad)).rejects.toBeInstanceOf(InputError);
      await expect(host.updateBranch(bad, sha, null)).rejects.toBeInstanceOf(InputError);
      await expect(host.createTag({ name: bad, sha, message: 'x' })).rejects.toBeInstanceOf(InputError);
      await expect(host.createCommit({ treeOfSha: sha, parent: bad, message: 'x' })).rejects.toBeInstanceOf(InputError);
      await expect(host.log(bad, sha)).rejects.toBeInstanceOf(InputError);
      await expect(host.diffStat(sha, bad)).rejects.toBeInstanceOf(InputError);
    }
    await expect(host.updateBranch('qa', `--upload-pack=touch ${marker}`, sha)).rejects.toBeInstanceOf(InputError);
    expect(await host.readFile(sha, '../../../etc/passwd')).toBeNull();
    expect(await host.readFile(sha, '--output=/tmp/x')).toBeNull();
    expect(existsSync(marker)).toBe(false);
  });

  it('left every ref of both repositories exactly as it was, and created no marker', () => {
    // the reason test rejected its staging request before any write
    expect(refsOf(t.repo('api'))).toBe(before.api);
    expect(refsOf(t.repo('web'))).toBe(before.web);
    expect(existsSync(marker)).toBe(false);
    if (!sharedExisted) expect(existsSync(shared)).toBe(false);
  });
});
