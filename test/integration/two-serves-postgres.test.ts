/**
 * Two `serve` processes' worth of runtimes (separate pools, engines, sweepers and mirrors) on one
 * real PostgreSQL: 20 people promote api qa at once through both; exactly one operation applies.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { copySandbox } from '../support/runtime.js';

const git = (repo: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
  }).trim();

describe('two serve instances on one PostgreSQL', () => {
  let pg: TestPostgres;
  let dir: string;
  let sandboxDir: string;
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase('two_serves');
    dir = mkdtempSync(join(tmpdir(), 'conveyor-two-serves-'));
    sandboxDir = (await copySandbox(dir)).dir;
    const base = parse(readFileSync(join(sandboxDir, 'conveyor.yaml'), 'utf8'));
    for (const name of ['a', 'b']) {
      const config = { ...base, state: { url }, git: { ...base.git, mirrorDir: `mirrors-${name}` } };
      writeFileSync(join(sandboxDir, `conveyor-${name}.yaml`), stringify(config));
      servers.push(
        await startServer({
          configFile: `conveyor-${name}.yaml`,
          cwd: sandboxDir,
          port: 0,
          host: '127.0.0.1',
          out: () => undefined,
          env: {},
          log: pino({ level: 'silent' }),
        }),
      );
    }
  }, 180_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('20 concurrent promotions through both: exactly one applies, the rest are told who holds the lock', async () => {
    const repo = join(sandboxDir, 'repos', 'api.git');
    const develop = git(repo, 'rev-parse', 'develop');
    const tagsBefore = git(repo, 'tag', '-l', 'qa/*').split('\n').filter(Boolean);
    const dispatchers = servers.map((s) => new Dispatcher(s.runtime));
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        dispatchers[i % 2]!.execute({
          text: 'promote api qa',
          user: `U_P${i}`,
          source: 'cli',
          idempotencyKey: `two-serves-${i}`,
        }),
      ),
    );
    const applied = replies.filter((r) => r.operation?.state === 'succeeded');
    expect(applied).toHaveLength(1);
    const others = replies.filter((r) => r !== applied[0]);
    for (const r of others) {
      // planned while the winner held the lock: told who holds it; planned after it finished: nothing left to do
      // planned on the old head just before the winner pushed, and given the lock after it: it fails
      // at its compare-and-swap, saying the branch already runs that version (nothing overwritten)
      if (r.operation?.state === 'failed')
        expect(JSON.stringify(r)).toMatch(/already runs|nothing was (pushed|overwritten)/);
      else if (r.status === 'ok') expect(r.title).toMatch(/^nothing to promote/);
      else expect(r.title).toMatch(/busy with promote op_[0-9a-z]+ \(asked by U_P\d+\)|already runs/);
      expect(r.operation?.state ?? 'none').not.toBe('succeeded');
    }
    expect(others.filter((r) => /busy with/.test(r.title)).length).toBeGreaterThan(0);
    expect(git(repo, 'rev-parse', 'qa')).toBe(develop);
    const newTags = git(repo, 'tag', '-l', 'qa/*')
      .split('\n')
      .filter((t) => t && !tagsBefore.includes(t));
    expect(newTags).toHaveLength(1);
    const ops = await servers[0]!.runtime.store.operations({ app: 'api', env: 'qa' });
    expect(ops.filter((o) => o.state === 'succeeded')).toHaveLength(1);
    expect(ops.filter((o) => !['succeeded', 'cancelled', 'failed'].includes(o.state))).toEqual([]);
  }, 180_000);
});
