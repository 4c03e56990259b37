/**
 * Personal API tokens through the real surfaces: a token created by a signed `/conveyor token
 * create` against the real server and the Slack fake, read from the ephemeral reply, used by
 * `conveyor run` (through the running serve) and `POST /api/run` to promote and approve; revoked
 * and refused; `--as` refused outside the sandbox; the local serve token refused outside it;
 * only hashes in the store; never a token in the log.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { createLogger } from '../../src/core/log.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { hashToken, TOKEN_SHAPE } from '../../src/store/token-store.js';
import { SlackDriver } from '../support/slack-driver.js';
import { type E2eWorkspace, git, makeE2eWorkspace } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'tokens-signing-secret';
const CHANNEL = 'C0DEPLOY1';
const TOKEN_IN_TEXT = /cvy_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/;

let ws: E2eWorkspace;
let fake: SlackFake;
let server: RunningServer;
let driver: SlackDriver;
let base: string;
let logText = '';
let tokenDir: string;
const created: Record<string, string> = {};

/** `conveyor run …` in this process (the serve above answers it), with stdout and stderr apart. */
async function conveyor(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) }, ws.root);
  return { code, out, err };
}

/** A token in a file only its owner can read (or with the mode given). */
function tokenFile(name: string, token: string, mode = 0o600): string {
  const file = join(tokenDir, name);
  writeFileSync(file, `${token}\n`);
  chmodSync(file, mode);
  return file;
}

/** A signed slash command; resolves with the ephemeral reply posted to its response_url. */
async function slash(user: string, text: string): Promise<string> {
  const responseUrl = fake.responseUrl();
  const id = responseUrl.split('/').pop()!;
  const res = await driver.slashCommand({ text, user, channel: CHANNEL, responseUrl });
  expect(res.status).toBe(200);
  let body: Record<string, unknown> | undefined;
  await vi.waitFor(
    () => {
      body = fake.responses.find((r) => r.id === id)?.body;
      expect(body).toBeDefined();
    },
    { timeout: 20_000 },
  );
  expect(body!.response_type).toBe('ephemeral');
  return `${String(body!.text)}\n${JSON.stringify(body!.blocks)}`;
}

async function createToken(user: string, label: string): Promise<string> {
  const shown = await slash(user, `token create ${label}`);
  expect(shown).toContain('shown only this once');
  const token = TOKEN_IN_TEXT.exec(shown)?.[0];
  expect(token, shown).toBeDefined();
  expect(TOKEN_SHAPE.test(token!)).toBe(true);
  created[`${user}:${label}`] = token!;
  return token!;
}

/** What /api/run answers: a reply, or one error line. */
interface Answer {
  error?: string;
  status?: string;
  title?: string;
}

async function post(body: unknown, auth?: string): Promise<{ status: number; json: Answer }> {
  const res = await fetch(`${base}/api/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

beforeAll(async () => {
  ws = await makeE2eWorkspace();
  tokenDir = mkdtempSync(join(tmpdir(), 'conveyor-token-files-'));
  fake = await SlackFake.start();
  const destination = new Writable({
    write(chunk, _enc, done) {
      logText += String(chunk);
      done();
    },
  });
  server = await startServer({
    cwd: ws.root,
    configFile: ws.configFile,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    log: createLogger({ destination, level: 'debug' }),
    env: { SLACK_BOT_TOKEN: fake.token, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl },
  });
  base = `http://127.0.0.1:${server.port}`;
  driver = new SlackDriver({ url: `${base}/slack/events`, signingSecret: SECRET });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await fake?.close();
  ws?.remove();
  if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
});

describe('personal API tokens, outside the sandbox', () => {
  let demo = '';
  let qa = '';

  it('/conveyor token create shows the token once, only to the asker; token list shows it without the token', async () => {
    demo = await createToken('U_DEMO', 'laptop');
    qa = await createToken('U_QA', 'ci runner');
    expect(demo).not.toBe(qa);
    const id = TOKEN_SHAPE.exec(demo)![1]!;
    const listed = await slash('U_DEMO', 'token list');
    expect(listed).toContain(id);
    expect(listed).toContain('laptop');
    expect(listed).toContain('never');
    expect(listed).not.toMatch(TOKEN_IN_TEXT);
    // Only U_DEMO's own tokens.
    expect(listed).not.toContain(TOKEN_SHAPE.exec(qa)![1]!);
    // Nothing about it went to the channel.
    expect(
      fake
        .messagesIn(CHANNEL)
        .map((m) => m.text)
        .join('\n'),
    ).not.toMatch(TOKEN_IN_TEXT);
    const audit = await server.runtime.store.auditLog({ action: 'token.created' });
    expect(audit.map((a) => a.actor).sort()).toEqual(['U_DEMO', 'U_QA']);
  });

  it("conveyor run with the token promotes as its owner, and the other person's token approves", async () => {
    const qaHead = git(ws.repo('api'), 'rev-parse', 'qa');
    const asked = await conveyor(
      'run',
      'promote api staging',
      '--config',
      ws.configFile,
      '--token-file',
      tokenFile('demo', demo),
      '--json',
    );
    expect(asked.code, asked.err).toBe(0);
    const reply = JSON.parse(asked.out) as { operation: { id: string; state: string } };
    expect(reply.operation.state).toBe('awaiting-approval');
    expect((await server.runtime.store.operation(reply.operation.id))?.requester).toBe('U_DEMO');
    // The requester's own token cannot approve.
    const own = await conveyor(
      'run',
      `approve ${reply.operation.id}`,
      '--config',
      ws.configFile,
      '--token-file',
      tokenFile('demo', demo),
    );
    expect(own.code).toBe(1);
    const approved = await conveyor(
      'run',
      `approve ${reply.operation.id}`,
      '--config',
      ws.configFile,
      '--token-file',
      tokenFile('qa', qa),
      '--json',
    );
    expect(approved.code, approved.err).toBe(0);
    await vi.waitFor(
      async () => expect((await server.runtime.store.operation(reply.operation.id))?.state).toBe('succeeded'),
      { timeout: 30_000 },
    );
    expect(git(ws.repo('api'), 'rev-parse', 'staging')).toBe(qaHead);
    // Last used is recorded (and shown), never the token.
    const listed = await slash('U_DEMO', 'token list');
    expect(listed).not.toContain('never');
  }, 120_000);

  it('POST /api/run with Authorization: Bearer runs as the owner; another body user is refused (403)', async () => {
    const ok = await post({ text: 'history api staging' }, `Bearer ${demo}`);
    expect(ok.status).toBe(200);
    expect(ok.json.status).toBe('ok');
    const same = await post({ text: 'list', user: 'U_DEMO' }, `Bearer ${demo}`);
    expect(same.status).toBe(200);
    const other = await post({ text: 'lock api qa as lead', user: 'U_LEAD' }, `Bearer ${demo}`);
    expect(other.status).toBe(403);
    expect(other.json.error).toMatch(/acts only as its owner/);
    expect((await server.runtime.store.allLocks()).filter((l) => l.manual)).toEqual([]);
  });

  it('tokens are created in Slack only: the CLI and the HTTP API are refused with one line', async () => {
    const cli = await conveyor(
      'run',
      'token create sneaky',
      '--config',
      ws.configFile,
      '--token-file',
      tokenFile('demo', demo),
    );
    expect(cli.code).toBe(1);
    expect(cli.out.trim().split('\n')[0]).toMatch(/tokens are created in Slack/);
    const http = await post({ text: 'token create sneaky' }, `Bearer ${demo}`);
    expect(http.json.status).toBe('refused');
    expect(http.json.title).toMatch(/tokens are created in Slack/);
    expect(JSON.stringify(http.json)).not.toMatch(TOKEN_IN_TEXT);
  });

  it('the local serve token names a user only in the sandbox: here 401 with how to get a personal token', async () => {
    const info = JSON.parse(readFileSync(join(ws.root, '.conveyor', 'serve.json'), 'utf8')) as { token: string };
    const res = await post({ text: 'approve op_aaaaaaaaaa', user: 'U_LEAD' }, `Bearer ${info.token}`);
    expect(res.status).toBe(401);
    expect(res.json.error).toMatch(/\/conveyor token create/);
    const none = await post({ text: 'list', user: 'U_DEMO' });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/\/conveyor token create/);
  });

  it('--as is a usage error outside the sandbox (exit 2), naming the token way', async () => {
    const as = await conveyor('run', 'approve op_aaaaaaaaaa', '--as', 'U_LEAD', '--config', ws.configFile);
    expect(as.code).toBe(2);
    expect(as.err.split('\n')[0]).toMatch(
      /^error: --as works only in the sandbox; .*\/conveyor token create.*CONVEYOR_TOKEN.*--token-file/,
    );
    // Without any token a running serve takes nothing.
    const anon = await conveyor('run', 'list', '--config', ws.configFile);
    expect(anon.code).toBe(1);
    expect(anon.err).toMatch(/personal token/);
  });

  it('a token file others can read is refused like ssh refuses a key, with the fix', async () => {
    const open = tokenFile('open', demo, 0o644);
    const res = await conveyor('run', 'list', '--config', ws.configFile, '--token-file', open);
    expect(res.code).toBe(2);
    expect(res.err.split('\n')[0]).toBe(
      `error: --token-file: ${open} is readable by others (mode 644); run: chmod 600 ${open}`,
    );
    const junk = await conveyor(
      'run',
      'list',
      '--config',
      ws.configFile,
      '--token-file',
      tokenFile('junk', 'not-a-token'),
    );
    expect(junk.code).toBe(2);
    expect(junk.err).toMatch(/does not hold a Conveyor token/);
  });

  it('an unknown token subcommand gets one line with did-you-mean', async () => {
    const res = await post({ text: 'token revok abc' }, `Bearer ${demo}`);
    expect(res.json.status).toBe('usage');
    expect(res.json.title).toBe('unknown token subcommand "revok" (did you mean "revoke"?); try "help token"');
  });

  it('token revoke <id> ends it: the CLI and the HTTP API then answer 401 like for any wrong token', async () => {
    const spare = await createToken('U_DEMO', 'spare');
    const spareId = TOKEN_SHAPE.exec(spare)![1]!;
    // Someone else's token cannot be revoked (and is not even said to exist).
    const foreign = await slash('U_QA', `token revoke ${spareId}`);
    expect(foreign).toMatch(/you have no token/);
    expect((await post({ text: 'list' }, `Bearer ${spare}`)).status).toBe(200);
    // The token itself in place of its id: refused, never echoed (nor kept in the command log).
    const pasted = await post({ text: `token revoke ${spare}` }, `Bearer ${spare}`);
    expect(pasted.json.status).toBe('usage');
    expect(JSON.stringify(pasted.json)).not.toContain(spare);
    const revoked = await slash('U_DEMO', `token revoke ${spareId}`);
    expect(revoked).toContain(`Revoked token ${spareId}`);
    const after = await post({ text: 'list' }, `Bearer ${spare}`);
    expect(after.status).toBe(401);
    const cli = await conveyor('run', 'list', '--config', ws.configFile, '--token-file', tokenFile('spare', spare));
    expect(cli.code).toBe(1);
    expect(cli.err.trim().split('\n')).toHaveLength(1);
    // Unknown id, right id with a wrong secret, a revoked token: the same one line.
    const unknown = await post({ text: 'list' }, `Bearer cvy_000000000000_${'A'.repeat(43)}`);
    const wrongSecret = await post({ text: 'list' }, `Bearer ${demo.slice(0, -4)}AAAA`);
    expect([unknown.status, wrongSecret.status]).toEqual([401, 401]);
    expect(new Set([after.json.error, unknown.json.error, wrongSecret.json.error]).size).toBe(1);
    const audit = await server.runtime.store.auditLog({ action: 'token.revoked' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'U_DEMO', detail: { id: spareId } });
  });

  it("App Home lists the viewer's active tokens (label, created, last used), never a revoked one or a token", async () => {
    const res = await driver.appHomeOpened({ user: 'U_DEMO' });
    expect(res.status).toBe(200);
    await vi.waitFor(
      () => expect(JSON.stringify(fake.homeViews.get('U_DEMO')?.blocks ?? [])).toContain('Your API tokens'),
      { timeout: 20_000 },
    );
    const home = JSON.stringify(fake.homeViews.get('U_DEMO')!.blocks);
    expect(home).toContain('laptop');
    expect(home).toContain(TOKEN_SHAPE.exec(demo)![1]!);
    expect(home).not.toContain('spare');
    expect(home).not.toMatch(TOKEN_IN_TEXT);
  });

  it('the store keeps only hashes: no token appears in any table', async () => {
    const db = server.runtime.state.db;
    const tables = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    expect(tables.map((t) => t.table_name)).toContain('api_tokens');
    let dump = '';
    for (const { table_name } of tables) dump += JSON.stringify(await db.query(`SELECT * FROM "${table_name}"`));
    const tokens = Object.values(created);
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    for (const token of tokens) {
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(TOKEN_SHAPE.exec(token)![2]!.slice(0, 20));
      expect(dump).toContain(hashToken(token));
    }
    expect(dump).not.toMatch(/cvy_[a-z0-9]{12}_[A-Za-z0-9_-]{20,}/);
  });

  it('a token that reaches a log call anyway is scrubbed from the line', () => {
    const token = created['U_DEMO:laptop']!;
    let line = '';
    const log = createLogger({
      level: 'info',
      destination: new Writable({
        write: (c, _e, done) => {
          line += String(c);
          done();
        },
      }),
    });
    log.warn({ detail: `sent ${token} to the API`, nested: { value: token } }, `request with ${token}`);
    expect(line).toContain('[redacted]');
    expect(line).not.toContain(TOKEN_SHAPE.exec(token)![2]!.slice(0, 8));
  });

  it('no token ever reaches the log', () => {
    expect(logText.length).toBeGreaterThan(0);
    for (const token of Object.values(created)) {
      expect(logText).not.toContain(token);
      expect(logText).not.toContain(TOKEN_SHAPE.exec(token)![2]!.slice(0, 20));
    }
  });
});
