/**
 * Every command's exit status against what it means: 0 done or accepted, 1 refused or failed,
 * 2 not a valid request. A table through the command service (the code the CLI turns into its
 * exit status), then a few rows through the real `conveyor run` process to show that mapping.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../src/core/reply.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

interface Row {
  command: string;
  user?: string;
  exit: 0 | 1 | 2;
  meaning: string;
}

describe('exit statuses mean what they say', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await makeRuntime();
  });
  afterAll(async () => t?.close());

  it('a table of every command: done, accepted, nothing to do, refused, failed, usage', async () => {
    const rows: Row[] = [
      { command: 'list', exit: 0, meaning: 'read' },
      { command: 'diff development qa', exit: 0, meaning: 'read' },
      { command: 'history api qa', exit: 0, meaning: 'read' },
      { command: 'help promote', exit: 0, meaning: 'read' },
      { command: 'help nosuch', exit: 2, meaning: 'usage' },
      { command: 'promote api qa --dry-run', exit: 0, meaning: 'would be accepted' },
      { command: 'promote api qa', exit: 0, meaning: 'done' },
      { command: 'promote api qa', exit: 0, meaning: 'nothing to promote' },
      { command: 'promote api development', exit: 2, meaning: 'not a valid request' },
      { command: 'promote nosuch', exit: 1, meaning: 'unknown app: refused' },
      { command: 'promote api --version', exit: 2, meaning: 'usage' },
      { command: 'promote api staging', exit: 0, meaning: 'accepted, waits for approval' },
      { command: 'promote api staging', exit: 1, meaning: 'refused: locked by the waiting operation' },
      { command: 'promote api staging --dry-run', exit: 1, meaning: 'dry-run predicts the refusal' },
      { command: 'approve $STAGING', user: 'U_DEMO', exit: 1, meaning: 'refused: own request' },
      { command: 'approve $STAGING', user: 'U_QA', exit: 0, meaning: 'done' },
      { command: 'approve $STAGING', user: 'U_QA', exit: 1, meaning: 'refused: nothing to approve' },
      { command: 'rollback api staging', exit: 0, meaning: 'accepted, waits for approval' },
      { command: 'reject $ROLLBACK no', user: 'U_OUTSIDER', exit: 1, meaning: 'refused: not an approver' },
      { command: 'reject $ROLLBACK not now', user: 'U_QA', exit: 0, meaning: 'done: rejected' },
      { command: 'reject $ROLLBACK', user: 'U_QA', exit: 1, meaning: 'refused: already ended' },
      { command: 'rollback api qa --to prod/2020.01.01.1', exit: 1, meaning: 'refused: never ran there' },
      { command: 'lock api qa release', user: 'U_DEMO', exit: 0, meaning: 'done' },
      { command: 'lock api qa again', user: 'U_DEMO', exit: 1, meaning: 'refused: already locked' },
      { command: 'rollback api qa', exit: 1, meaning: 'refused: locked' },
      { command: 'unlock api qa', user: 'U_DEMO', exit: 0, meaning: 'done' },
      { command: 'unlock api qa', user: 'U_DEMO', exit: 1, meaning: 'refused: not locked' },
      { command: 'journal status', exit: 0, meaning: 'read' },
      { command: 'journal promote qa', exit: 0, meaning: 'nothing to move' },
      { command: 'journal retry dev', exit: 1, meaning: 'refused: no failed import' },
      { command: 'token list', exit: 0, meaning: 'read' },
      { command: 'audit --since 7d', exit: 0, meaning: 'read' },
      { command: 'audit --since yesterday', exit: 2, meaning: 'usage: not a time' },
      { command: 'token create laptop', exit: 1, meaning: 'refused: tokens are created in Slack' },
      { command: 'token revoke aaaaaaaaaaaa', exit: 1, meaning: 'refused: not a token of yours' },
      { command: 'token revok aaaaaaaaaaaa', exit: 2, meaning: 'unknown subcommand' },
      { command: 'nosuch', exit: 2, meaning: 'unknown command' },
    ];
    const ids: Record<string, string> = {};
    for (const row of rows) {
      const text = row.command.replace(/\$(\w+)/, (_, name: string) => ids[name]!);
      const reply = await t.run(text, row.user ?? 'U_DEMO');
      if (reply.operation && /^promote api staging$/.test(text) && reply.operation.state === 'awaiting-approval')
        ids.STAGING = reply.operation.id;
      if (reply.operation && /^rollback api staging$/.test(text)) ids.ROLLBACK = reply.operation.id;
      expect({ command: row.command, meaning: row.meaning, exit: exitCodeOf(reply) }, reply.title).toEqual({
        command: row.command,
        meaning: row.meaning,
        exit: row.exit,
      });
    }
  });
});

describe('the conveyor process exits with the same status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-exit-'));
  const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
  const run = (text: string, user: string) =>
    new Promise<{ code: number; stdout: string }>((done) => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        LOG_LEVEL: 'warn',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
      };
      delete env.DATABASE_URL;
      execFile('node', [BIN, 'run', text, '--as', user, '--json'], { cwd: dir, env, timeout: 120_000 }, (err, stdout) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout }),
      );
    });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('0 for an accepted request and a done reject, 1 for a refusal, 2 for a usage error', async () => {
    const asked = await run('promote api staging', 'U_DEMO');
    expect(asked.code).toBe(0);
    const id = JSON.parse(asked.stdout).operation.id as string;
    expect((await run('promote api staging', 'U_DEMO')).code).toBe(1); // the first one holds the lock
    expect((await run('promote api --version', 'U_DEMO')).code).toBe(2);
    const rejected = await run(`reject ${id} not tested yet`, 'U_QA');
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ ok: true, operation: { id, state: 'rejected' } });
  });
});
