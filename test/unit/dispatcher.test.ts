/**
 * The dispatcher, the one door of every command: grammar errors, unknown names, hostile
 * arguments, help, idempotent replays. Through a real runtime on the sandbox repositories.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('dispatcher', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await makeRuntime();
  });
  afterAll(async () => t?.close());

  it('answers an unknown command with one error line and the usage of every command', async () => {
    const reply = await t.run('promot api qa');
    expect(reply.status).toBe('usage');
    expect(reply.title).toBe('unknown command "promot" (did you mean "promote"?); try "help"');
    expect(reply.ephemeral).toBe(true);
    const usage = reply.blocks.find((b) => b.type === 'code');
    expect(usage?.type === 'code' && usage.text).toMatch(/^usage: promote <app>/);
    for (const cmd of ['rollback <app> <env>', 'list [<app>] [<env>]', 'approve <operation-id>', 'help [<command>]']) {
      expect(reply.text).toContain(cmd);
    }
    expect((await t.run('')).title).toMatch(/no command given/);
  });

  it('refuses an unknown app and names the known ones', async () => {
    const reply = await t.run('list nosuchapp');
    expect(reply.status).toBe('refused');
    expect(reply.title).toBe('unknown app "nosuchapp"; known apps: api, web');
    expect(reply.text).toContain('usage: list [<app>] [<env>]');
  });

  it('answers an unknown environment with usage', async () => {
    const reply = await t.run('list api nosuchenv');
    expect(reply.status).toBe('usage');
    expect(reply.title).toMatch(/unknown environment "nosuchenv"; environments: development, qa, staging, prod/);
    expect(reply.text).toContain('usage: list [<app>] [<env>]');
  });

  it('refuses malformed arguments and extra words with the command usage', async () => {
    const cases: [string, RegExp][] = [
      ['list Bad_App', /app: an app name/],
      ['list api qa extra', /unexpected argument "extra"/],
      ['promote api --colour red', /Unknown option '--colour'/],
      ['promote api --version', /option '--version.*' needs a value/],
      ['rollback api', /missing <env>/],
      ['approve 12345', /an operation id/],
    ];
    for (const [text, title] of cases) {
      const reply = await t.run(text);
      expect(reply.status, text).toBe('usage');
      expect(reply.title, text).toMatch(title);
      expect(reply.text, text).toMatch(/usage: (list|promote|rollback|approve) /);
    }
  });

  it('never lets a version reach Git as an option', async () => {
    const marker = join(t.dir, 'pwned');
    const before = await t.run('list api qa');
    for (const text of [
      `promote api --version '--upload-pack=touch ${marker}'`,
      `promote api --version=--upload-pack=touch\\ ${marker}`,
      `promote api qa --version "-c core.sshCommand=touch ${marker}"`,
      `rollback api qa --to '--output=${marker}'`,
      'promote api --version "HEAD@{1}"',
      'promote api --version ../../etc/passwd',
    ]) {
      const reply = await t.run(text);
      expect(reply.status, text).toBe('usage');
      expect(reply.text, text).toMatch(/usage: (promote|rollback) /);
    }
    expect(existsSync(marker)).toBe(false);
    expect((await t.run('list api qa')).data).toEqual(before.data); // nothing moved
  });

  it('refuses callers that are not a valid user id', async () => {
    const reply = await t.run('list', 'U DEMO; rm -rf /');
    expect(reply.status).toBe('usage');
    expect(reply.title).toMatch(/not a valid user id/);
  });

  it('help lists every command; help <command> explains one', async () => {
    const all = await t.run('help');
    expect(all.status).toBe('ok');
    for (const name of [
      'promote',
      'rollback',
      'diff',
      'list',
      'history',
      'approve',
      'reject',
      'lock',
      'unlock',
      'journal promote',
    ]) {
      expect(all.text).toContain(name);
    }
    const one = await t.run('help promote');
    expect(one.status).toBe('ok');
    expect(one.text).toContain('usage: promote <app> [<env>] [--version <tag|sha>]');
    expect(one.text).toMatch(/--dry-run\s+run every check and print the plan/);
    expect((await t.run('help journal promote')).text).toContain('usage: journal promote <env>');
    const unknown = await t.run('help nosuch');
    expect(unknown.status).toBe('usage');
    expect(unknown.title).toMatch(/no command "nosuch"/);
  });

  it('replays the first answer of a mutating command sent twice with one idempotency key', async () => {
    const first = await t.run('lock web qa "release train"', 'U_DEMO', 'evt-1');
    expect(first.status).toBe('ok');
    const again = await t.run('lock web qa "release train"', 'U_DEMO', 'evt-1');
    expect(again).toEqual({ ...first, replayed: true });
    const fresh = await t.run('lock web qa "release train"', 'U_DEMO', 'evt-2');
    expect(fresh.status).toBe('refused');
    expect(fresh.title).toMatch(/already locked by U_DEMO: release train/);
    expect((await t.runtime.store.allLocks()).filter((l) => l.app === 'web' && l.env === 'qa')).toHaveLength(1);
    expect((await t.run('unlock web qa', 'U_DEMO', 'evt-3')).status).toBe('ok');
    const log = await t.runtime.store.commandLog(5);
    expect(log.map((l) => `${l.text} → ${l.outcome}`)).toContain('lock web qa "release train" → refused');
  });
});
