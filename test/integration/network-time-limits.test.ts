/**
 * A remote that takes the connection and then says nothing: Git's clone, fetch and ls-remote
 * through a mirror, and GitHub API requests, are stopped at `git.networkTimeout` with a one-line
 * reason, and the repository poller's pass goes on past a source that never answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit } from '../../src/adapters/github.js';
import { parseConfig } from '../../src/config/load.js';
import { type PollSource, RepoPoller } from '../../src/controller/repo-poller.js';
import { ConfigError } from '../../src/core/errors.js';
import { SANDBOX_CONFIG } from '../../src/sandbox/sandbox.js';

/** Accepts every connection and never answers; remembers when each one was closed by the client. */
class SilentServer {
  readonly closed: number[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.resume(); // read (and drop) the request, so the client's close is seen
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.closed.push(Date.now());
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const silent = new SilentServer();
const tmp = mkdtempSync(join(tmpdir(), 'conveyor-time-limits-'));

beforeAll(() => silent.start());
afterAll(async () => {
  await silent.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('network time limits', () => {
  it("a mirror's clone from a silent server stops at the limit, says so in one line, and drops the connection", async () => {
    const url = `http://127.0.0.1:${silent.port}/acme/api.git`;
    const mirror = new GitMirror({ url, dir: join(tmp, 'api.git'), networkTimeoutMs: 800 });
    const closedBefore = silent.closed.length;
    const started = Date.now();
    const err = await mirror.sync().then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      new RegExp(
        `^cannot fetch http://127\\.0\\.0\\.1:${silent.port}/acme/api\\.git: git clone timed out after 0\\.8 s`,
      ),
    );
    expect(err?.message.split('\n')).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    // Git was stopped, not left waiting: its connection to the server closes.
    const deadline = Date.now() + 10_000;
    while (silent.closed.length === closedBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(silent.closed.length).toBeGreaterThan(closedBefore);
  });

  it('a GitHub API request to a silent server is aborted at the limit', async () => {
    const octokit = createOctokit({
      token: 'ghs_TIMELIMIT0123456789',
      baseUrl: `http://127.0.0.1:${silent.port}`,
      throttle: false,
      retries: 0,
      timeoutMs: 500,
    });
    const started = Date.now();
    const err = await octokit.rest.repos.get({ owner: 'acme', repo: 'api' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/abort|timeout/i);
    expect(err?.message).not.toContain('ghs_TIMELIMIT0123456789');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a poll pass goes on past a source that never answers: the others are polled, the silent one is logged', async () => {
    const heard: string[] = [];
    const warnings: string[] = [];
    const never: PollSource = { app: 'stuck', poll: () => new Promise(() => {}) };
    const fine: PollSource = {
      app: 'web',
      poll: async () => ({ status: 200, etag: null, pollInterval: null, heads: { main: 'a'.repeat(40) } }),
    };
    const poller = new RepoPoller({
      sources: [never, fine],
      intervalMs: 60_000,
      pollTimeoutMs: 300,
      onHeads: async (app) => {
        heard.push(app);
      },
      log: { warn: (obj, msg) => warnings.push(`${msg}: ${JSON.stringify(obj)}`) },
    });
    await poller.pollAll();
    expect(heard).toEqual(['web']);
    expect(warnings).toEqual([expect.stringMatching(/repository poll failed.*"app":"stuck".*no answer within 0\.3 s/)]);
    // The next pass asks the silent one again rather than waiting on the first ask for ever.
    await poller.pollAll();
    expect(warnings).toHaveLength(2);
    await poller.stop();
  });

  it('git.networkTimeout is a duration in conveyor.yaml, 120 s unless set', () => {
    expect(parseConfig(SANDBOX_CONFIG).git.networkTimeout).toBe(120_000);
    const set = SANDBOX_CONFIG.replace(/^git:\n/m, 'git:\n  networkTimeout: 30s\n');
    expect(parseConfig(set).git.networkTimeout).toBe(30_000);
    // No limit of zero: every GitHub request would be aborted at once.
    const zero = SANDBOX_CONFIG.replace(/^git:\n/m, 'git:\n  networkTimeout: 0s\n');
    expect(() => parseConfig(zero)).toThrow(ConfigError);
    try {
      parseConfig(zero);
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).toMatch(/git\.networkTimeout.*at least 1s/);
    }
  });
});
