/**
 * What keeps the journal workers running unattended: the sandbox serve keeps its local token
 * across restarts; a worker whose token is rotated (JOURNAL_TOKEN_FILE rewritten, as Kubernetes
 * does with a mounted Secret) reads it again on the bot's 401 instead of looping; `*_FILE`
 * secrets; and the worker's /healthz, /readyz and /metrics.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../src/cli-config.js';
import { readSecrets } from '../../src/config/secrets.js';
import { BotLink } from '../../src/journal/bot-link.js';
import { WorkerHealth } from '../../src/journal/worker-health.js';
import { makeJournalWorkspace, startJournalServer } from '../support/journal-setup.js';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bot that accepts one bearer token at a time. */
async function tokenBot(): Promise<{
  url: string;
  accept: (token: string) => void;
  seen: string[];
  close: () => Promise<void>;
}> {
  let accepted = '';
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    seen.push(token);
    res.writeHead(token === accepted ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(token === accepted ? { ok: true } : { error: 'unauthorized' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accept: (token) => {
      accepted = token;
    },
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const resolvedWith = (botUrl: string): ResolvedConfig =>
  ({
    config: { journal: { botUrl } },
    baseDir: dir,
    sandbox: false,
    runDir: dir,
    serveInfoFile: join(dir, 'serve.json'),
    file: join(dir, 'conveyor.yaml'),
  }) as unknown as ResolvedConfig;

describe('journal workers across token changes', () => {
  // Two starts of the sandbox serve: slow on a loaded 2-core machine.
  it('the sandbox serve keeps its local token across a restart', { timeout: 240_000 }, async () => {
    const ws = await makeJournalWorkspace();
    try {
      const first = await startJournalServer(ws);
      const token = first.token;
      await first.stop();
      const second = await startJournalServer(ws);
      try {
        expect(second.token).toBe(token);
        expect((await second.api('GET', '/v1/kv/journal_version/dev', { token })).status).not.toBe(401);
      } finally {
        await second.stop();
      }
    } finally {
      ws.remove();
    }
  });

  it('a rotated JOURNAL_TOKEN_FILE is read again on the 401, and the call goes through', async () => {
    const bot = await tokenBot();
    try {
      const file = join(dir, 'journal-token');
      writeFileSync(file, 'first-token-aaaaaaaa\n');
      bot.accept('first-token-aaaaaaaa');
      const link = BotLink.fromConfig(resolvedWith(bot.url), { JOURNAL_TOKEN_FILE: file });
      const results: string[] = [];
      link.onResult = (r) => results.push(r);
      expect(await link.call('GET', '/api/journal/versions')).toEqual({ ok: true });

      // The Secret is rotated: serve knows only the new token, the mounted file changes.
      bot.accept('second-token-bbbbbbb');
      writeFileSync(file, 'second-token-bbbbbbb\n');
      expect(await link.call('GET', '/api/journal/versions')).toEqual({ ok: true });
      expect(bot.seen.slice(-2)).toEqual(['first-token-aaaaaaaa', 'second-token-bbbbbbb']);
      expect(results).toEqual(['ok', 'ok']);

      // A token serve no longer knows, and no new one: refused, reported as such.
      bot.accept('third-token-ccccccccc');
      await expect(link.call('GET', '/api/journal/versions')).rejects.toThrow(/refused this token \(HTTP 401\)/);
      expect(results.at(-1)).toBe('unauthorized');
    } finally {
      await bot.close();
    }
  });

  it('secrets come from NAME, else from the file NAME_FILE names (trailing newline dropped)', () => {
    const file = join(dir, 'slack-token');
    writeFileSync(file, 'xoxb-from-a-file\n');
    expect(readSecrets({ SLACK_BOT_TOKEN_FILE: file }).SLACK_BOT_TOKEN).toBe('xoxb-from-a-file');
    expect(readSecrets({ SLACK_BOT_TOKEN: 'xoxb-direct', SLACK_BOT_TOKEN_FILE: file }).SLACK_BOT_TOKEN).toBe(
      'xoxb-direct',
    );
    expect(() => readSecrets({ DATABASE_URL_FILE: join(dir, 'missing') })).toThrow(
      /DATABASE_URL_FILE: cannot read .*missing \(ENOENT\)/,
    );
    expect(readFileSync(file, 'utf8')).toContain('xoxb');
  });
});

describe("a worker's health endpoint", () => {
  it('/healthz always, /readyz once started and while the bot accepts the token, /metrics with Node defaults', async () => {
    const health = new WorkerHealth('journal-agent', { env: 'qa' });
    const port = await health.listen(0, '127.0.0.1');
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    };
    try {
      expect((await get('/healthz')).status).toBe(200);
      expect((await get('/readyz')).status).toBe(503);
      health.markStarted();
      expect((await get('/readyz')).status).toBe(200);
      health.botResult('unauthorized');
      expect(JSON.parse((await get('/readyz')).text)).toEqual({ ready: false, started: true, botAcceptsToken: false });
      health.botResult('ok');
      expect((await get('/readyz')).status).toBe(200);
      const metrics = (await get('/metrics')).text;
      expect(metrics).toMatch(/^process_cpu_user_seconds_total\{worker="journal-agent",env="qa"\} /m);
      expect(metrics).toMatch(/^conveyor_journal_worker_ready\{worker="journal-agent",env="qa"\} 1$/m);
      expect(metrics).toMatch(
        /^conveyor_journal_bot_requests_total\{result="unauthorized",worker="journal-agent",env="qa"\} 1$/m,
      );
      expect((await get('/nothing')).status).toBe(404);
    } finally {
      await health.close();
    }
  });
});
