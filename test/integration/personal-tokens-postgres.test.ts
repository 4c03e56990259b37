/**
 * `conveyor run` in-process on PostgreSQL (no serve to hand the command to): without a token
 * only commands that read run (as an anonymous CLI identity), a state-changing one is refused
 * with one line and exit 1; with a personal token (CONVEYOR_TOKEN or --token-file) it runs as
 * the token's owner; a revoked token is refused; `--as` is a usage error. A replayed
 * `token create` never shows (or stores) the token again.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../src/cli.js';
import type { ComposedRuntime as Runtime } from '../../src/compose.js';
import { compose } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { renderText } from '../../src/core/render-text.js';
import { wireControllerless } from '../../src/server/wiring.js';
import { TOKEN_SHAPE } from '../../src/store/token-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { copySandbox } from '../support/runtime.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const TOKEN_IN_TEXT = /cvy_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/;

let pg: TestPostgres;
let root: string;
let configFile: string;
let runtime: Runtime;
let dispatcher: Dispatcher;

async function conveyor(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) }, root);
  return { code, out, err };
}

/** What Slack's `/conveyor token create` would answer this user (the command, from Slack). */
async function tokenFromSlack(user: string, label: string, key?: string): Promise<{ token?: string; text: string }> {
  const reply = await dispatcher.execute({ text: `token create ${label}`, user, source: 'slack', idempotencyKey: key });
  const text = renderText(reply);
  return { token: TOKEN_IN_TEXT.exec(text)?.[0], text };
}

function tokenFile(name: string, token: string): string {
  const file = join(root, name);
  writeFileSync(file, token);
  chmodSync(file, 0o600);
  return file;
}

beforeAll(async () => {
  pg = await startPostgres();
  root = mkdtempSync(join(tmpdir(), 'conveyor-tokens-pg-'));
  const sandbox = await copySandbox(root);
  const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, any>;
  raw.state = { url: await pg.createDatabase('personal_tokens') };
  configFile = join(sandbox.dir, 'pg.yaml');
  writeFileSync(configFile, stringify(raw));
  runtime = await compose({
    config: parseConfig(stringify(raw)),
    baseDir: sandbox.dir,
    log: pino({ level: 'silent' }),
    env: {},
  });
  wireControllerless(runtime);
  dispatcher = new Dispatcher(runtime);
}, 240_000);

afterAll(async () => {
  await runtime?.engine.stop();
  await runtime?.store.close();
  await pg?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('conveyor run in-process on PostgreSQL', () => {
  let demo = '';

  it('without a token: reads run anonymously, a state-changing command is refused with one line (exit 1)', async () => {
    const list = await conveyor('run', 'list', '--config', configFile);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('api');
    const diff = await conveyor('run', 'diff development qa', '--config', configFile);
    expect(diff.code, diff.err).toBe(0);
    const promote = await conveyor('run', 'promote api qa', '--config', configFile);
    expect(promote.code).toBe(1);
    expect(promote.out).toBe('');
    expect(promote.err.trim().split('\n')).toEqual([
      'error: "promote" changes state and needs a personal token: create a personal token in Slack with `/conveyor token create`, then set CONVEYOR_TOKEN or pass --token-file <file>',
    ]);
    for (const text of ['approve op_aaaaaaaaaa', 'lock api qa', 'journal promote qa', 'token revoke abc']) {
      expect((await conveyor('run', text, '--config', configFile)).code, text).toBe(1);
    }
    expect(await runtime.store.operations()).toEqual([]);
    expect(await runtime.store.allLocks()).toEqual([]);
  }, 120_000);

  it('--as is a usage error outside the sandbox', async () => {
    const res = await conveyor('run', 'promote api qa', '--as', 'U_DEMO', '--config', configFile);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/^error: --as works only in the sandbox/);
    expect(await runtime.store.operations()).toEqual([]);
  });

  it('with a token (--token-file) the command runs as its owner', async () => {
    const created = await tokenFromSlack('U_DEMO', 'pg laptop');
    expect(created.token, created.text).toBeDefined();
    demo = created.token!;
    const res = await conveyor(
      'run',
      'promote api qa',
      '--config',
      configFile,
      '--token-file',
      tokenFile('demo.token', demo),
      '--json',
    );
    expect(res.code, res.err).toBe(0);
    const { operation } = JSON.parse(res.out) as { operation: { id: string } };
    expect((await runtime.store.operation(operation.id))?.requester).toBe('U_DEMO');
  }, 120_000);

  it('with CONVEYOR_TOKEN in a child process: the same', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CONVEYOR_TOKEN: demo,
      LOG_LEVEL: 'silent',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    delete env.DATABASE_URL;
    delete env.CONVEYOR_TOKEN_FILE;
    const res = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [BIN, 'run', 'lock web qa token test', '--config', configFile],
        { cwd: root, env, timeout: 120_000 },
        (err, stdout, stderr) =>
          done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      ),
    );
    expect(res.code, res.stderr).toBe(0);
    const [lock] = (await runtime.store.allLocks()).filter((l) => l.manual);
    expect(lock).toMatchObject({ app: 'web', env: 'qa', holder: 'U_DEMO' });
  }, 120_000);

  it('a revoked token is refused (exit 1, one line)', async () => {
    const spare = (await tokenFromSlack('U_DEMO', 'spare')).token!;
    const id = TOKEN_SHAPE.exec(spare)![1]!;
    const revoked = await dispatcher.execute({ text: `token revoke ${id}`, user: 'U_DEMO', source: 'slack' });
    expect(revoked.status).toBe('ok');
    const res = await conveyor(
      'run',
      'unlock web qa',
      '--config',
      configFile,
      '--token-file',
      tokenFile('spare.token', spare),
    );
    expect(res.code).toBe(1);
    expect(res.err.trim().split('\n')).toHaveLength(1);
    expect(res.err).toMatch(/not valid/);
    expect((await runtime.store.allLocks()).filter((l) => l.manual)).toHaveLength(1);
  }, 120_000);

  it('a replayed token create shows no token again and creates no second one; the store holds hashes only', async () => {
    const first = await tokenFromSlack('U_QA', 'replayed', 'slack:trigger-1');
    expect(first.token).toBeDefined();
    const again = await tokenFromSlack('U_QA', 'replayed', 'slack:trigger-1');
    expect(again.token).toBeUndefined();
    expect(again.text).toMatch(/was shown once when it was created and is not kept/);
    const rows = await runtime.state.db.query<{ label: string }>("SELECT label FROM api_tokens WHERE owner = 'U_QA'");
    expect(rows).toHaveLength(1);
    const tables = await runtime.state.db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    let dump = '';
    for (const { table_name } of tables)
      dump += JSON.stringify(await runtime.state.db.query(`SELECT * FROM "${table_name}"`));
    for (const token of [demo, first.token!]) expect(dump).not.toContain(TOKEN_SHAPE.exec(token)![2]!);
    expect(dump).not.toMatch(TOKEN_IN_TEXT);
  });
});
