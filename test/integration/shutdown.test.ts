/**
 * Graceful shutdown of a real `conveyor serve` child (sandbox in a temp folder): SIGTERM arrives
 * while an approval — the request that applies a promotion — is in flight. The request is served
 * to the end, new requests are refused (503) or find the port closed, the process exits with 0
 * and removes serve.json; the next start (`conveyor run "history"` in-process) sees the
 * operation succeeded exactly once and plain Git agrees: staging at qa's head, one new tag.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import type { Reply } from '../../src/core/reply.js';
import { head, tagNames, tagsAt } from '../support/git-helpers.js';
import { copySandbox } from '../support/runtime.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');

interface Answer {
  status: number;
  body: string;
}

/** POST with `Expect: 100-continue`: resolves `accepted` once serve has taken the request into a route. */
function heldRequest(port: number, path: string, token: string, body: unknown) {
  const text = JSON.stringify(body);
  const req = request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      expect: '100-continue',
      connection: 'close',
    },
  });
  const accepted = once(req, 'continue');
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { accepted, answer, send: () => req.end(text) };
}

/** A request after SIGTERM: its status, or the network error when the port is already closed. */
async function tryRequest(url: string, init: RequestInit = {}): Promise<number | 'closed'> {
  try {
    const res = await fetch(url, { ...init, headers: { ...init.headers, connection: 'close' } });
    await res.text();
    return res.status;
  } catch {
    return 'closed';
  }
}

describe('SIGTERM while a promotion is applied', () => {
  let cwd: string;
  let repo: string;
  let serveInfo: string;
  let child: ChildProcess;
  let stderr = '';
  let exit: Promise<[number | null, NodeJS.Signals | null]>;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'conveyor-shutdown-'));
    const sandbox = await copySandbox(cwd);
    repo = join(sandbox.dir, 'repos', 'api.git');
    serveInfo = join(sandbox.dir, 'serve.json');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'warn',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    for (const k of ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'DATABASE_URL', 'PORT', 'HOST', 'CONVEYOR_CRASH_AT'])
      delete env[k];
    child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.resume();
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  });

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('serves the approval in flight, refuses new requests, exits 0, and the next start agrees with Git', async () => {
    // serve announces itself in serve.json once it listens; /readyz says when it has swept.
    await vi.waitFor(() => expect(existsSync(serveInfo), stderr).toBe(true), { timeout: 120_000, interval: 200 });
    const info = JSON.parse(readFileSync(serveInfo, 'utf8')) as { pid: number; port: number; token: string };
    expect(info.pid).toBe(child.pid);
    const base = `http://127.0.0.1:${info.port}`;
    await vi.waitFor(async () => expect(await tryRequest(`${base}/readyz`)).toBe(200), {
      timeout: 60_000,
      interval: 200,
    });

    const run = async (text: string, user: string): Promise<Reply> => {
      const res = await fetch(`${base}/api/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text, user }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Reply;
    };
    const qaHead = head(repo, 'qa');
    const stagingBefore = head(repo, 'staging');
    const tagsBefore = tagNames(repo, 'staging/');
    expect(stagingBefore).not.toBe(qaHead);

    const asked = await run('promote api staging', 'U_DEMO');
    expect(asked.operation?.state, asked.title).toBe('awaiting-approval');
    const id = asked.operation!.id;

    // The approval is taken in (serve answered 100 Continue), then SIGTERM, then its body.
    const approval = heldRequest(info.port, '/api/run', info.token, { text: `approve ${id}`, user: 'U_QA' });
    await approval.accepted;
    expect(child.kill('SIGTERM')).toBe(true);

    // From now on serve takes nothing new: 503 while it drains, or a closed port.
    await vi.waitFor(async () => expect(await tryRequest(`${base}/readyz`)).not.toBe(200), {
      timeout: 30_000,
      interval: 50,
    });
    const late = await tryRequest(`${base}/api/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'list', user: 'U_DEMO' }),
    });
    expect([503, 'closed']).toContain(late);

    approval.send();
    // A hang-up means serve cut the request short: show what it logged.
    const answer = await approval.answer.catch(async (err: Error) => {
      await exit;
      throw new Error(`${err.message}; serve said: ${stderr}`);
    });
    expect(answer.status, answer.body).toBe(200);
    const reply = JSON.parse(answer.body) as Reply;
    expect(reply.status, reply.title).toBe('ok');
    expect(reply.operation).toMatchObject({ id, state: 'succeeded' });

    const [code, signal] = await exit;
    expect(signal, stderr).toBeNull();
    expect(code, stderr).toBe(0);
    expect(existsSync(serveInfo)).toBe(false);

    // The next start: `conveyor run` in this process sweeps, then answers from the same state.
    let out = '';
    const io = { out: (s: string) => (out += `${s}\n`), err: (s: string) => (out += `${s}\n`) };
    expect(await main(['run', 'history api staging', '--as', 'U_DEMO'], io, cwd), out).toBe(0);
    const rows = out
      .split('\n')
      .filter((l) => l.startsWith('op_'))
      .map((l) => l.split(/\s{2,}/));
    expect(rows.map((r) => [r[0], r[1], r[6]])).toEqual([[id, 'promote', 'succeeded']]);

    // Git agrees: staging now runs qa's version, with exactly one new deploy tag on it.
    expect(head(repo, 'staging')).toBe(qaHead);
    const added = tagNames(repo, 'staging/').filter((t) => !tagsBefore.includes(t));
    expect(added).toHaveLength(1);
    expect(tagsAt(repo, qaHead, 'staging/')).toEqual(added);
  }, 240_000);
});
