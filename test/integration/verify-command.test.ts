/**
 * `command` checks, run by a verification worker: serve's routes (POST /api/verify/claim and
 * /api/verify/reports) on a loopback port over the real store, and `conveyor verify-worker` as a
 * real child process (bin/conveyor.js) that claims the task, runs its argv without a shell and
 * reports. Shown: a pass with the app, environment and version in argv and env (and the worker's
 * token kept out of the command's environment); a failure with the output's tail; no worker
 * (the check fails at its deadline, never passes); a claim is a lease (a claimed task is not
 * handed out twice, also after serve's routes restart; an expired claim is handed out again and
 * the dead worker's late report is refused); bad reports get one line and a 4xx and lose
 * nothing; a shell string in the configuration is refused with one line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Operation } from '../../src/core/operation.js';
import { HttpServer } from '../../src/server/http-server.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { addVerifyWorkerRoutes } from '../../src/server/verify-worker-routes.js';
import { runCommandCheck } from '../../src/verify/command-check.js';
import { type CommandTask, commandTasksOf } from '../../src/verify/command-task.js';
import { type CommandCheck, checkSchema } from '../../src/verify/schema.js';
import type { TemplateVars } from '../../src/verify/template.js';
import { copySandbox, makeRuntime, type TestRuntime } from '../support/runtime.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const TOKENS = { runner: 'tok-runner-0123456789', manual: 'tok-manual-0123456789', other: 'tok-other-0123456789' };

const vars: TemplateVars = {
  app: 'api',
  env: 'qa',
  version: '1.4.1',
  sha: 'c'.repeat(40),
  tag: 'qa/2026.11.26.1',
  operation: 'op',
  namespace: 'qa',
  backup: '',
};

describe('command checks run by a verification worker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-verify-command-'));
  const runs = join(dir, 'runs.log');
  const script = join(dir, 'smoke.mjs');
  let t: TestRuntime;
  let http: HttpServer;
  let base: string;
  let worker: ChildProcess;
  let workerLog = '';

  const check = (over: Record<string, unknown>) =>
    checkSchema.parse({ kind: 'command', name: 'smoke', interval: '50ms', timeout: '10s', ...over }) as CommandCheck;

  async function verifyingOp(): Promise<Operation> {
    return t.runtime.store.createOperation({
      kind: 'promote',
      app: 'api',
      env: 'qa',
      state: 'verifying',
      requester: 'U_DEMO',
      plan: {} as Operation['plan'],
      idempotencyKey: null,
      expiresAt: null,
    } as Parameters<typeof t.runtime.store.createOperation>[0]);
  }

  const deps = (waitForWorkerMs = 60_000) => ({
    store: t.runtime.store,
    clock: t.runtime.clock,
    worker: 'smoke-runner',
    waitForWorkerMs,
    pollMs: 50,
  });

  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  async function startRoutes(): Promise<void> {
    http = new HttpServer(pino({ level: 'silent' }));
    addVerifyWorkerRoutes(
      http,
      t.runtime,
      { VERIFY_WORKER_TOKENS: `smoke-runner=${TOKENS.runner},manual=${TOKENS.manual},other=${TOKENS.other}` },
      () => '',
    );
    const port = await http.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    // The command the worker runs: records its argv and environment, prints, exits as told.
    writeFileSync(
      script,
      [
        "import { appendFileSync } from 'node:fs';",
        `appendFileSync(${JSON.stringify(runs)}, JSON.stringify({ argv: process.argv.slice(2), target: process.env.TARGET, token: process.env.VERIFY_WORKER_TOKEN ?? null }) + '\\n');`,
        "const code = Number(process.env.EXIT_CODE ?? '0');",
        "if (code) { console.log('checking orders endpoint'); console.error('smoke: orders endpoint answered 502'); }",
        "else console.log('all 4 smoke tests passed');",
        'process.exit(code);',
      ].join('\n'),
    );
    t = await makeRuntime();
    await startRoutes();
    worker = spawn(
      process.execPath,
      [BIN, 'verify-worker', '--name', 'smoke-runner', '--server', base, '--poll', '0.1'],
      { env: { ...process.env, VERIFY_WORKER_TOKEN: TOKENS.runner, LOG_LEVEL: 'info' }, stdio: 'pipe' },
    );
    worker.stdout?.on('data', (d) => {
      workerLog += d;
    });
    worker.stderr?.on('data', (d) => {
      workerLog += d;
    });
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await http?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const runLines = () =>
    readFileSync(runs, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; target: string; token: string | null });

  it('the worker runs the argv with the app, environment and version, without its own token, and it passes', async () => {
    const op = await verifyingOp();
    const result = await runCommandCheck(
      deps(),
      op,
      check({
        argv: [process.execPath, script, '--app', '{app}', '{env}', 'v={version}'],
        env: { TARGET: '{app}-{env}' },
      }),
      vars,
    );
    expect(result.status, workerLog).toBe('passed');
    expect(result.output).toMatch(/^node exited 0 in \d+ ms \(worker smoke-runner\)$/);
    expect(runLines()).toEqual([{ argv: ['--app', 'api', 'qa', 'v=1.4.1'], target: 'api-qa', token: null }]);
    const task = commandTasksOf(await t.runtime.store.operation(op.id)).smoke!;
    expect(task.result).toMatchObject({ status: 'passed', exitCode: 0, attempt: 1 });
    expect(task.result!.outputTail).toContain('all 4 smoke tests passed');
    const audit = await t.runtime.store.auditLog({ operationId: op.id });
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['verify.command.queued', 'verify.command.claimed', 'verify.command.reported']),
    );
    expect(workerLog).not.toContain(TOKENS.runner);
  }, 60_000);

  it('a failing command fails the check with its exit code and the tail of its output', async () => {
    const op = await verifyingOp();
    const result = await runCommandCheck(
      deps(),
      op,
      check({ argv: [process.execPath, script], env: { EXIT_CODE: '3' }, retries: 1 }),
      vars,
    );
    expect(result.status).toBe('failed');
    expect(result.output).toMatch(
      /^1 of 1 measurement failed \(limit 0\): node exited 3 in \d+ ms: smoke: orders endpoint answered 502 \(worker smoke-runner\)\nlast output:\n/,
    );
    expect(result.output).toContain('checking orders endpoint');
    // One try and one retry, each a run of the command.
    expect(
      runLines()
        .slice(-2)
        .map((r) => r.argv),
    ).toEqual([[], []]);
  }, 60_000);

  it('a program that does not exist fails; it never passes', async () => {
    const op = await verifyingOp();
    const result = await runCommandCheck(deps(), op, check({ argv: ['/nonexistent/smoke-tests'] }), vars);
    expect(result.status).toBe('failed');
    expect(result.output).toContain('smoke-tests could not run: ENOENT');
  }, 60_000);

  it('without a worker to claim it, the check fails at its deadline, naming the worker', async () => {
    const op = await verifyingOp();
    const pending = runCommandCheck(
      { ...deps(1000), worker: 'nobody' },
      op,
      check({ argv: ['/bin/true'], timeout: '1s' }),
      vars,
    );
    await new Promise((r) => setTimeout(r, 200));
    t.clock.advance(60_000);
    const result = await pending;
    expect(result.status).toBe('failed');
    expect(result.output).toMatch(
      /^no verification worker named nobody claimed it by .*: is `conveyor verify-worker --name nobody` running/,
    );
  }, 30_000);

  it('a claim is a lease: not handed out twice (also after a restart), handed out again when it expires', async () => {
    const op = await verifyingOp();
    const c = check({ argv: ['/bin/true'], worker: 'manual', timeout: '2s' });
    const pending = runCommandCheck(deps(600_000), op, c, vars);
    await new Promise((r) => setTimeout(r, 200));
    const first = await post('/api/verify/claim', { worker: 'manual' }, TOKENS.manual);
    expect(first.status).toBe(200);
    expect(first.body.task).toMatchObject({ id: `${op.id}.smoke`, attempt: 1, argv: ['/bin/true'] });
    expect((await post('/api/verify/claim', { worker: 'manual' }, TOKENS.manual)).status).toBe(204);
    // serve's routes restart: the claim is in the store, still held.
    await http.close();
    await startRoutes();
    expect((await post('/api/verify/claim', { worker: 'manual' }, TOKENS.manual)).status).toBe(204);
    // The claiming worker died: once its lease is over, the task is handed out again.
    const task = commandTasksOf(await t.runtime.store.operation(op.id)).smoke as CommandTask;
    t.clock.advance(task.leaseMs + 1);
    const second = await post('/api/verify/claim', { worker: 'manual' }, TOKENS.manual);
    expect(second.body.task).toMatchObject({ id: `${op.id}.smoke`, attempt: 2 });
    const report = { task: `${op.id}.smoke`, status: 'passed', output: 'true exited 0', exitCode: 0, durationMs: 3 };
    const late = await post('/api/verify/reports', { ...report, attempt: 1, outputTail: '' }, TOKENS.manual);
    expect(late).toEqual({
      status: 409,
      body: { error: `task ${op.id}.smoke is not claimed as attempt 1 (its claim is attempt 2)` },
    });
    const ok = await post('/api/verify/reports', { ...report, attempt: 2, outputTail: '' }, TOKENS.manual);
    expect(ok.status).toBe(201);
    const again = await post('/api/verify/reports', { ...report, attempt: 2, outputTail: '' }, TOKENS.manual);
    expect(again).toMatchObject({ status: 200, body: { already: true } });
    const result = await pending;
    expect(result).toEqual({ status: 'passed', output: 'true exited 0 (worker manual)' });
  }, 60_000);

  it('bad reports and claims get one line and a 4xx, and lose nothing', async () => {
    const op = await verifyingOp();
    const c = check({ argv: ['/bin/true'], worker: 'manual' });
    const pending = runCommandCheck(deps(600_000), op, c, vars);
    await new Promise((r) => setTimeout(r, 200));
    const claimed = await post('/api/verify/claim', { worker: 'manual' }, TOKENS.manual);
    const report = {
      task: `${op.id}.smoke`,
      attempt: claimed.body.task.attempt,
      status: 'failed',
      output: 'true exited 1',
      exitCode: 1,
      durationMs: 2,
      outputTail: 'boom',
    };
    const refusals = [
      await post('/api/verify/reports', report),
      await post('/api/verify/reports', report, 'not-a-token'),
      await post('/api/verify/reports', report, TOKENS.other),
      await post('/api/verify/claim', { worker: 'manual' }, TOKENS.other),
      await post('/api/verify/reports', '{"task":', TOKENS.manual),
      await post('/api/verify/reports', { ...report, status: 'great' }, TOKENS.manual),
      await post('/api/verify/reports', { ...report, task: 'op_nothing.smoke' }, TOKENS.manual),
      await post('/api/verify/reports', { ...report, task: '../../etc' }, TOKENS.manual),
      await post('/api/verify/claim', { worker: 'Manual Worker' }, TOKENS.manual),
    ];
    expect(refusals.map((r) => r.status)).toEqual([401, 401, 403, 403, 400, 400, 404, 400, 400]);
    for (const r of refusals) {
      expect(typeof r.body.error).toBe('string');
      expect(r.body.error).not.toContain('\n');
      expect(r.body.error).not.toContain(TOKENS.other);
    }
    expect(refusals[2]!.body.error).toBe(`task ${op.id}.smoke belongs to worker manual, not other`);
    // Nothing was recorded by any of them: the real report still lands, and decides the check.
    expect(commandTasksOf(await t.runtime.store.operation(op.id)).smoke!.result).toBeUndefined();
    expect((await post('/api/verify/reports', report, TOKENS.manual)).status).toBe(201);
    const result = await pending;
    expect(result.status).toBe('failed');
    expect(result.output).toBe('true exited 1 (worker manual)\nlast output:\nboom');
  }, 60_000);

  it('the configuration refuses argv as a shell string with one line, a command check without a worker, a soak window shorter than its interval', async () => {
    const { configFile } = await copySandbox(dir);
    const raw = parse(readFileSync(configFile, 'utf8'));
    raw.environments[1].verify = {
      checks: [{ kind: 'command', name: 'smoke', argv: './smoke.sh --env qa | tee out' }],
    };
    const problemsOf = (config: unknown): string[] => {
      try {
        parseConfig(stringify(config));
        return [];
      } catch (err) {
        return (err as { problems: string[] }).problems;
      }
    };
    const shell = problemsOf(raw);
    expect(shell).toHaveLength(1);
    expect(shell[0]).toMatch(/argv is a list \(program, then each argument\), never a shell string/);
    expect(shell[0]).not.toContain('\n');
    raw.environments[1].verify = { checks: [{ kind: 'command', name: 'smoke', argv: ['./smoke.sh'] }] };
    expect(problemsOf(raw).join('\n')).toContain(
      "command check smoke needs a worker: set verify.worker (or the check's worker) to the --name of a conveyor verify-worker",
    );
    raw.environments[1].verify = {
      worker: 'smoke-runner',
      checks: [{ kind: 'command', name: 'smoke', argv: ['./smoke.sh'] }],
    };
    expect(parseConfig(stringify(raw)).environments[1]!.verify.checks[0]).toMatchObject({ kind: 'command' });
    // A soak window shorter than its interval would end before its first evaluation.
    raw.environments[1].verify = {
      checks: [{ kind: 'http', name: 'smoke', url: 'http://svc/health' }],
      soak: { for: '5m', interval: '10m' },
    };
    expect(problemsOf(raw)).toEqual([
      expect.stringContaining(
        'soak.for is shorter than soak.interval: the window would end before its first evaluation',
      ),
    ]);
    raw.environments[1].verify.soak = { for: '10m', interval: '10m' };
    expect(problemsOf(raw)).toEqual([]);
  });
});

describe('a verification worker against serve as it starts (its tokens from VERIFY_WORKER_TOKENS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-verify-serve-'));
  let server: RunningServer;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    server = await startServer({
      cwd: dir,
      port: 0,
      host: '127.0.0.1',
      out: () => {},
      log: pino({ level: 'silent' }),
      env: { VERIFY_WORKER_TOKENS: `edge-runner=${TOKENS.runner}` },
    });
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('claims the check serve queued, runs it and reports; a wrong token is refused', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const refused = await fetch(`${base}/api/verify/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.other}`, 'content-type': 'application/json' },
      body: JSON.stringify({ worker: 'edge-runner' }),
    });
    expect(refused.status).toBe(401);
    const op = await server.runtime.store.createOperation({
      kind: 'promote',
      app: 'api',
      env: 'qa',
      state: 'verifying',
      requester: 'U_DEMO',
      plan: {} as Operation['plan'],
      idempotencyKey: null,
      expiresAt: null,
    } as Parameters<typeof server.runtime.store.createOperation>[0]);
    let log = '';
    worker = spawn(
      process.execPath,
      [BIN, 'verify-worker', '--name', 'edge-runner', '--server', base, '--poll', '0.1'],
      {
        env: { ...process.env, VERIFY_WORKER_TOKEN: TOKENS.runner },
        stdio: 'pipe',
      },
    );
    worker.stderr?.on('data', (d) => {
      log += d;
    });
    worker.stdout?.on('data', (d) => {
      log += d;
    });
    const result = await runCommandCheck(
      {
        store: server.runtime.store,
        clock: server.runtime.clock,
        worker: 'edge-runner',
        waitForWorkerMs: 60_000,
        pollMs: 50,
      },
      op,
      checkSchema.parse({ kind: 'command', name: 'edge', argv: ['/bin/sh', '-c', 'exit 0'] }) as CommandCheck,
      vars,
    );
    expect(result.status, log).toBe('passed');
    expect(result.output).toMatch(/^sh exited 0 in \d+ ms \(worker edge-runner\)$/);
    // SIGTERM stops it cleanly.
    const exited = new Promise<number | null>((r) => worker!.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
