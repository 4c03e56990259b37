/**
 * The real `conveyor` command line as a child process, in a fresh folder: the sandbox on first
 * use, `run` (alone and through a running `serve`), `check-config`, `serve` with its health
 * endpoints, the PGlite folder lock, and a clean SIGTERM.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../support/postgres.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');

/** Three mistakes: a bad `enters`, a bad app name, a gate role that is not defined. */
const THREE_MISTAKES = readFileSync(new URL('../fixtures/three-mistakes.yaml', import.meta.url), 'utf8');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
const childEnv = () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'warn',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
  };
  delete env.PORT;
  delete env.HOST;
  delete env.DATABASE_URL;
  return env;
};

function conveyor(...args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile('node', [BIN, ...args], { cwd: dir, env: childEnv(), timeout: 150_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

const git = (app: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', join(dir, '.conveyor/sandbox/repos', `${app}.git`), ...args], {
    encoding: 'utf8',
    env: childEnv(),
  }).trim();

const BRANCH_OF: Record<string, string> = {
  development: 'develop',
  qa: 'qa',
  staging: 'staging',
  prod: 'prod',
};

/** Rows of the `list` table as { app, env, sha }. */
function matrix(stdout: string): { app: string; env: string; sha: string }[] {
  return stdout
    .split('\n')
    .filter((l) => /^(api|web)\s/.test(l))
    .map((l) => {
      const [app, env] = l.split(/\s+/) as [string, string];
      const sha = /\s([0-9a-f]{7,12})\s/.exec(l)?.[1] ?? '';
      return { app, env, sha };
    });
}

// Child processes on a loaded 2-core machine: the first run builds the sandbox and PGlite's folder.
describe('conveyor CLI', { timeout: 180_000 }, () => {
  let checkConfig: Promise<Result>;
  let serve: ChildProcess | null = null;
  let serveOut = '';
  let serveErr = '';
  let serveExit: Promise<number | null>;
  let port: number;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), THREE_MISTAKES);
    // Independent of the sandbox: runs while the first `run` builds it.
    checkConfig = conveyor('check-config', '--config', 'bad.yaml');
  });
  afterAll(() => {
    if (serve && serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('run "list" builds the sandbox and prints the apps in the four environments at their branch heads', async () => {
    const { code, stdout, stderr } = await conveyor('run', 'list', '--as', 'U_DEMO');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^3 apps × 4 environments/);
    const rows = matrix(stdout);
    expect(rows.map((r) => `${r.app} ${r.env}`)).toEqual(
      ['api', 'web'].flatMap((app) => ['development', 'qa', 'staging', 'prod'].map((env) => `${app} ${env}`)),
    );
    for (const row of rows) {
      expect(git(row.app, 'rev-parse', BRANCH_OF[row.env]!).startsWith(row.sha), `${row.app} ${row.env}`).toBe(true);
    }
  });

  it('check-config reports the mistakes of a bad file with their paths and exits 2', async () => {
    const { code, stdout, stderr } = await checkConfig;
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: bad\.yaml has \d problems?/);
    expect(stderr).toContain('environments[1].enters:');
    expect(stderr).toContain('apps[0].name:');
  });

  // Regression (fixed) (src/config/schema.ts superRefine, see test/unit/config.test.ts): the undefined
  // gate role is not reported while there are field mistakes.
  it('check-config reports all three mistakes', async () => {
    const { stderr } = await checkConfig;
    expect(stderr).toContain('error: bad.yaml has 3 problems');
    expect(stderr).toContain('environments[1].gate: role "release-manager" is not defined under roles');
  });

  const DEMO_USERS = 'the demo users are U_DEMO, U_LEAD, U_PO, U_QA (roles in the sandbox configuration)';

  it('run --as a user the sandbox does not name: a one-line usage error listing the demo users, exit 2', async () => {
    const nobody = await conveyor('run', 'list', '--as', 'U_NOBODY');
    expect(nobody.code).toBe(2);
    expect(nobody.stdout).toBe('');
    const [first, ...rest] = nobody.stderr.split('\n');
    expect(first).toBe(`error: "U_NOBODY" is not a sandbox user; ${DEMO_USERS}`);
    expect(rest.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(rest.join('\n')).toContain('usage: conveyor run');
  });

  it('serve: /healthz, /readyz, and the serve.json that announces it', async () => {
    port = await freePort();
    serve = spawn('node', [BIN, 'serve', '--port', String(port)], {
      cwd: dir,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve.stdout!.on('data', (d) => {
      serveOut += d;
    });
    serve.stderr!.on('data', (d) => {
      serveErr += d;
    });
    serveExit = new Promise((done) => serve!.once('exit', (code) => done(code)));
    await vi.waitFor(
      () => {
        if (serve!.exitCode !== null) throw new Error(`serve exited ${serve!.exitCode}: ${serveErr}`);
        expect(serveOut).toContain(`Conveyor is serving the sandbox on http://127.0.0.1:${port}`);
      },
      { timeout: 90_000, interval: 100 },
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    await vi.waitFor(
      async () => {
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(ready.status).toBe(200);
      },
      { timeout: 30_000, interval: 200 },
    );
    const info = JSON.parse(readFileSync(join(dir, '.conveyor/sandbox/serve.json'), 'utf8'));
    // It says what it runs, so `conveyor run` can hand it a command without reading the configuration.
    expect(info).toMatchObject({
      pid: serve.pid,
      port,
      embedded: true,
      config: join(dir, '.conveyor/sandbox/conveyor.yaml'),
    });
  });

  it('run goes through the running serve (PGlite is one process) with the same answers and exit codes', async () => {
    const [list, unknown, noApp, noEnv] = await Promise.all([
      conveyor('run', 'list', '--as', 'U_DEMO', '--json'),
      conveyor('run', 'promot api qa', '--as', 'U_DEMO'),
      conveyor('run', 'list nosuchapp', '--as', 'U_DEMO', '--json'),
      conveyor('run', 'list api nosuchenv', '--as', 'U_DEMO'),
    ]);
    // Had it opened the state folder itself, the folder lock would have refused it.
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const json = JSON.parse(list.stdout);
    expect(json).toMatchObject({ ok: true, status: 'ok', title: '3 apps × 4 environments' });
    expect(matrix(json.text)).toHaveLength(8);
    expect(json.data.rows).toContainEqual(
      expect.objectContaining({
        app: 'web',
        env: 'staging',
        sha: git('web', 'rev-parse', 'staging').slice(0, 8),
      }),
    );

    expect(unknown.code).toBe(2);
    const lines = unknown.stdout.trim().split('\n');
    expect(lines[0]).toBe('error: unknown command "promot" (did you mean "promote"?); try "help"');
    expect(lines[1]).toBe('');
    expect(lines[2]).toMatch(/^usage: promote <app>/);
    expect(lines.filter((l) => l.startsWith('error'))).toHaveLength(1);

    expect(noApp.code).toBe(1);
    const refused = JSON.parse(noApp.stdout);
    expect(refused).toMatchObject({
      ok: false,
      status: 'refused',
      title: 'unknown app "nosuchapp"; known apps: api, web, worker',
    });
    expect(refused.text).toContain('usage: list [<app>] [<env>]');

    expect(noEnv.code).toBe(2);
    expect(noEnv.stdout).toMatch(/^error: unknown environment "nosuchenv"/);
    expect(noEnv.stdout).toContain('usage: list [<app>] [<env>]');
  });

  it('through the running serve, --as and POST /api/run accept only the sandbox users (400, one line)', async () => {
    const nobody = await conveyor('run', 'list', '--as', 'U_NOBODY');
    expect(nobody.code).toBe(2);
    expect(nobody.stderr.split('\n')[0]).toBe(`error: "U_NOBODY" is not a sandbox user; ${DEMO_USERS}`);
    const { token } = JSON.parse(readFileSync(join(dir, '.conveyor/sandbox/serve.json'), 'utf8'));
    const post = (user: string) =>
      fetch(`http://127.0.0.1:${port}/api/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'list api prod', user }),
      });
    const refused = await post('U_NOBODY');
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: string };
    expect(body.error).toBe(`"U_NOBODY" is not a sandbox user; ${DEMO_USERS}`);
    expect(body.error).not.toContain('\n');
    const accepted = await post('U_QA');
    expect(accepted.status).toBe(200);
    expect(((await accepted.json()) as { status: string }).status).toBe('ok');
  });

  it('list through the serve reads the kept mirror; --fresh fetches first and shows a push made by hand', async () => {
    const before = await conveyor('run', 'list web staging', '--as', 'U_DEMO', '--json');
    const shown = JSON.parse(before.stdout).data.rows[0].sha;
    const parent = git('web', 'rev-parse', 'staging');
    expect(shown).toBe(parent.slice(0, 8));
    const tree = git('web', 'rev-parse', 'staging^{tree}');
    const pushed = git(
      'web',
      '-c',
      'user.name=Hand',
      '-c',
      'user.email=hand@example.com',
      'commit-tree',
      tree,
      '-p',
      parent,
      '-m',
      'hotfix by hand',
    );
    git('web', 'update-ref', 'refs/heads/staging', pushed, parent);
    const fresh = await conveyor('run', 'list web staging --fresh', '--as', 'U_DEMO', '--json');
    expect(fresh.code).toBe(0);
    expect(JSON.parse(fresh.stdout).data.rows).toEqual([
      expect.objectContaining({ app: 'web', env: 'staging', sha: pushed.slice(0, 8) }),
    ]);
    git('web', 'update-ref', 'refs/heads/staging', parent, pushed);
  });

  it('a second serve on the same folder refuses to start and names the running one', async () => {
    const second = await conveyor('serve', '--port', String(await freePort()));
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(new RegExp(`in use by another Conveyor process \\(pid ${serve!.pid}\\)`));
    expect(existsSync(join(dir, '.conveyor/sandbox/serve.json'))).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('SIGTERM stops serve cleanly: exit 0 and serve.json removed', async () => {
    serve!.kill('SIGTERM');
    expect(await serveExit).toBe(0);
    expect(existsSync(join(dir, '.conveyor/sandbox/serve.json'))).toBe(false);
    expect(serveErr).not.toMatch(/error/i);
  });

  it('the sandbox configuration copied to ./conveyor.yaml as its header says passes check-config and runs', async () => {
    const sandboxConfig = readFileSync(join(dir, '.conveyor/sandbox/conveyor.yaml'), 'utf8');
    const header = sandboxConfig.split('\n').filter((l) => l.startsWith('#'));
    expect(header.join('\n')).toContain('copy it to ./conveyor.yaml');
    // Every "`from` → `to`" the header names, done in the copy.
    const edits = header.flatMap((l) => [...l.matchAll(/`([^`]+)` → `([^`]*)`/g)].map((m) => [m[1]!, m[2]!] as const));
    expect(edits.length).toBeGreaterThan(0);
    let copy = sandboxConfig;
    for (const [from, to] of edits) {
      expect(copy, `the header says to change "${from}"`).toContain(from);
      copy = copy.split(from).join(to);
    }
    writeFileSync(join(dir, 'conveyor.yaml'), copy);
    try {
      const checked = await conveyor('check-config');
      expect(checked.stderr).toBe('');
      expect(checked.code).toBe(0);
      expect(checked.stdout).toContain(`${join(dir, 'conveyor.yaml')}: valid (4 environments, 3 apps)`);
      expect(checked.stdout).not.toContain('is not there');
      // the editor's schema line still finds the schema
      const schema = /^# yaml-language-server: \$schema=(\S+)$/m.exec(copy)?.[1];
      expect(existsSync(resolve(dir, schema!))).toBe(true);
      const list = await conveyor('run', 'list', '--json');
      expect(list.stderr).toBe('');
      expect(list.code).toBe(0);
      expect(matrix(JSON.parse(list.stdout).text)).toHaveLength(8);
    } finally {
      rmSync(join(dir, 'conveyor.yaml'));
    }
  });

  it("check-config says when an app's repository path is not there", async () => {
    const sandboxConfig = readFileSync(join(dir, '.conveyor/sandbox/conveyor.yaml'), 'utf8');
    writeFileSync(join(dir, 'copied-as-is.yaml'), sandboxConfig);
    const checked = await conveyor('check-config', '--config', 'copied-as-is.yaml');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(
      `note: apps.api.repo is the local path ./repos/api.git, which is not there (${join(dir, 'repos/api.git')}; relative paths are read from the configuration's folder)`,
    );
  });
});
