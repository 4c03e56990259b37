/**
 * Workspace for the Slack end-to-end test: the sandbox's real bare repositories in a temp
 * folder, a configuration file beside them whose prod gate needs three roles, Git helpers that
 * read the bare repositories (the "remote") and push many commits through a temp clone, and a
 * pino logger that keeps its lines for assertions.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { parse, stringify } from 'yaml';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { SlackDriver } from './slack-driver.js';
import type { SlackFake } from './slack-fake.js';

export interface E2eWorkspace {
  /** Temp root (the server's cwd). */
  root: string;
  /** The configuration file given to `startServer` as `configFile`. */
  configFile: string;
  /** Path of an app's bare repository. */
  repo(app: string): string;
  remove(): void;
}

/** The parts of the sandbox YAML this setup edits (the rest passes through untouched). */
interface SandboxYaml {
  environments: { name: string; gate?: Record<string, unknown> }[];
  roles: Record<string, { users: string[] }>;
  state: { url: string };
  apps: { name: string }[];
  [key: string]: unknown;
}

const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

/** Run git in a bare repository (or any `--git-dir`); returns trimmed stdout. */
export function git(gitDir: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', env: GIT_ENV }).trim();
}

/** The sandbox repositories plus a config whose prod gate is tech-lead + product-owner + devops. */
export async function makeE2eWorkspace(): Promise<E2eWorkspace> {
  const root = mkdtempSync(join(tmpdir(), 'conveyor-slack-e2e-'));
  const sandbox = await ensureSandbox(root);
  const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as SandboxYaml;
  const prod = raw.environments.find((e) => e.name === 'prod')!;
  prod.gate = { ...prod.gate, roles: { 'tech-lead': 1, 'product-owner': 1, devops: 1 } };
  raw.roles.devops = { users: ['U_OPS'] };
  raw.state = { url: 'pglite:memory' };
  // The branch apps only: the image app `worker` has its own story (test/integration/sandbox-worker.test.ts).
  raw.apps = raw.apps.filter((a) => a.name !== 'worker');
  // Relative paths (repos, mirrors, objects) resolve against this file's folder: the sandbox.
  const configFile = join(sandbox.dir, 'e2e.yaml');
  writeFileSync(configFile, stringify(raw));
  return {
    root,
    configFile,
    repo: (app) => join(sandbox.dir, 'repos', `${app}.git`),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Add `count` commits (each touching its own file, with mrkdwn-hostile subjects) on top of
 * `branch` in a temp clone of the bare repository, then push them. One `git fast-import`
 * writes them all. Returns the new head.
 */
export function pushCommits(bare: string, branch: string, count: number): string {
  const work = mkdtempSync(join(tmpdir(), 'conveyor-e2e-clone-'));
  try {
    execFileSync('git', ['clone', '--quiet', '--branch', branch, bare, work], { env: GIT_ENV });
    const dotGit = join(work, '.git');
    const parent = git(dotGit, 'rev-parse', 'HEAD');
    const start = Math.floor(Date.now() / 1000) - count * 60;
    const parts: string[] = [];
    for (let i = 1; i <= count; i++) {
      const n = String(i).padStart(4, '0');
      const subject = `Change ${n}: tune <cache> & retry budget of the orders handler for batch ${n}`;
      const content = `export const change${n} = ${i};\n`;
      const when = `${start + i * 60} +0000`;
      parts.push(
        `commit refs/heads/${branch}`,
        `author Dara Dev <dara@example.com> ${when}`,
        `committer Dara Dev <dara@example.com> ${when}`,
        `data ${Buffer.byteLength(subject)}`,
        subject,
        ...(i === 1 ? [`from ${parent}`] : []),
        `M 100644 inline src/changes/change-${n}.ts`,
        `data ${Buffer.byteLength(content)}`,
        content,
      );
    }
    execFileSync('git', ['--git-dir', dotGit, 'fast-import', '--quiet'], {
      input: `${parts.join('\n')}\n`,
      env: GIT_ENV,
    });
    execFileSync(
      'git',
      ['--git-dir', dotGit, 'push', '--quiet', 'origin', `refs/heads/${branch}:refs/heads/${branch}`],
      {
        env: GIT_ENV,
      },
    );
    return git(bare, 'rev-parse', branch);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface CapturedLog {
  log: Logger;
  /** Parsed log lines so far. */
  lines: { msg?: string; level: number; [k: string]: unknown }[];
  /** Lines whose message contains `text`. */
  find(text: string): { msg?: string }[];
}

/** A pino logger (info and up) whose output is kept in memory. */
export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = pino(
    { level: 'info' },
    {
      write(line: string) {
        try {
          lines.push(JSON.parse(line));
        } catch {
          lines.push({ level: 0, msg: line });
        }
      },
    },
  );
  return {
    log,
    lines,
    find: (text) => lines.filter((l) => typeof l.msg === 'string' && l.msg.includes(text)),
  };
}

/** `conveyor serve` on the workspace, its Slack pointed at the fake, and a driver signing for it. */
export async function startSlackServe(
  ws: E2eWorkspace,
  fake: SlackFake,
  signingSecret: string,
  log: Logger = captureLog().log,
): Promise<{ server: RunningServer; driver: SlackDriver }> {
  const server = await startServer({
    cwd: ws.root,
    configFile: ws.configFile,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    log,
    env: { SLACK_BOT_TOKEN: fake.token, SLACK_SIGNING_SECRET: signingSecret, SLACK_API_URL: fake.apiUrl },
  });
  return { server, driver: new SlackDriver({ url: `http://127.0.0.1:${server.port}/slack/events`, signingSecret }) };
}
