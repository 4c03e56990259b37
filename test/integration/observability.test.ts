/**
 * Observability of the real server (`startServer` on loopback, sandbox cwd):
 * - `/metrics` after a scripted session through `/api/run` and the journal API: the exposition
 *   text is parsed and each Conveyor series is checked by its labels and values.
 * - logs of a session with real-looking tokens (Slack live against the fake, warnings, errors,
 *   a Slack post refused with not_in_channel, a URL with `?token=`) hold none of them, and every
 *   line is JSON with `level` and `msg`; `scrubSecrets` on tricky inputs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readSecrets, secretValues } from '../../src/config/secrets.js';
import { createLogger, scrubSecrets } from '../../src/core/log.js';
import type { Reply } from '../../src/core/reply.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { copySandbox } from '../support/runtime.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';

// ------------------------------------------------------------ helpers

/** promtool (Debian's prometheus package; .ci/run installs it), or null with the reason printed. */
const promtool = (() => {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (!found) console.warn('promtool is not installed: skipping `promtool check metrics` (apt-get install prometheus)');
  return found || null;
})();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

/** Prometheus text exposition: HELP/TYPE per metric name and every sample with its labels. */
function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { help, type, samples };
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function seriesValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = pick(samples, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const today = new Date().toISOString().slice(0, 10).replaceAll('-', '.');
const VERSION = `${today}-dev-modelling.1`;

const SECRETS = {
  SLACK_BOT_TOKEN: `xoxb-123456789012-1234567890123-${randomBytes(12).toString('hex')}`,
  SLACK_SIGNING_SECRET: randomBytes(16).toString('hex'),
  GITHUB_TOKEN: `ghp_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`,
  DB_PASSWORD: `pw${randomBytes(10).toString('hex')}`,
  CONSUL_HTTP_TOKEN: randomUUID(),
  JOURNAL_DEV: `jt${randomBytes(16).toString('hex')}`,
  JOURNAL_AGENT: `ja${randomBytes(16).toString('hex')}`,
  URL_TOKEN: `qs${randomBytes(12).toString('hex')}`,
};

// ------------------------------------------------------------ one session, two views

/**
 * One real server on a fresh sandbox (its own PGlite folder), Slack live against the fake,
 * every secret set, logs at debug collected line by line. A scripted session runs first and
 * `/metrics` is read; then more calls that log (refusals, failures), then serve stops.
 */
let server: RunningServer;
let fake: SlackFake;
let dir = '';
let base = '';
let localToken = '';
let scrubbed: string[] = [];
let pendingWhileWaiting: number | undefined;
let metrics: Exposition;
/** The exposition text as served, for promtool. */
let metricsText = '';
const lines: string[] = [];

async function post(path: string, body: unknown, token = localToken): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

async function run(text: string, user: string): Promise<Reply> {
  const res = await post('/api/run', { text, user });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json as Reply;
}

async function readMetrics(): Promise<Exposition> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  metricsText = await res.text();
  return parseExposition(metricsText);
}

describe('a served session with every secret set', () => {
  beforeAll(async () => {
    fake = await SlackFake.start({ token: SECRETS.SLACK_BOT_TOKEN });
    const env: NodeJS.ProcessEnv = {
      SLACK_BOT_TOKEN: SECRETS.SLACK_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SECRETS.SLACK_SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
      GITHUB_TOKEN: SECRETS.GITHUB_TOKEN,
      // In the sandbox the state stays on PGlite: DATABASE_URL is only read outside it.
      DATABASE_URL: `postgres://conveyor:${SECRETS.DB_PASSWORD}@db.internal:5432/conveyor`,
      CONSUL_HTTP_TOKEN: SECRETS.CONSUL_HTTP_TOKEN,
      JOURNAL_TOKENS: `dev-modelling=${SECRETS.JOURNAL_DEV},dev=${SECRETS.JOURNAL_AGENT}`,
    };
    scrubbed = secretValues(readSecrets(env));
    let partial = '';
    const destination = new Writable({
      write(chunk: Buffer | string, _enc, done) {
        partial += chunk.toString();
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts.filter(Boolean));
        done();
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'conveyor-obs-'));
    const sandbox = await copySandbox(dir);
    server = await startServer({
      cwd: dir,
      port: 0,
      host: '127.0.0.1',
      out: () => {},
      env,
      log: createLogger({ destination, secrets: scrubbed, level: 'debug' }),
    });
    const info = JSON.parse(readFileSync(join(sandbox.dir, 'serve.json'), 'utf8')) as { port: number; token: string };
    expect(info.port).toBe(server.port);
    base = `http://127.0.0.1:${server.port}`;
    localToken = info.token;

    // --- the scripted session
    fake.leaveChannel('#deploys-qa'); // qa announcements are refused: not_in_channel
    expect((await run('list', 'U_DEMO')).status).toBe('ok');
    expect((await run('promote api', 'U_DEMO')).operation?.state).toBe('succeeded');
    const staging = await run('promote api staging', 'U_DEMO');
    expect(staging.operation?.state).toBe('awaiting-approval');
    pendingWhileWaiting = seriesValue((await readMetrics()).samples, 'conveyor_approvals_pending');
    // Refused: the requester may not approve their own request.
    expect((await run(`approve ${staging.operation!.id}`, 'U_DEMO')).status).toBe('refused');
    expect((await run(`approve ${staging.operation!.id}`, 'U_QA')).operation?.state).toBe('succeeded');
    expect((await run('frobnicate everything', 'U_DEMO')).status).toBe('usage');
    // A wrong local token is turned away and counts as no command.
    expect((await post('/api/run', { text: 'list', user: 'U_DEMO' }, 'not-the-token')).status).toBe(401);
    const report = {
      env: 'dev',
      version: VERSION,
      ok: true,
      exitCode: 0,
      durationMs: 1200,
      outputTail: 'imported 42 rows',
    };
    expect((await post('/api/journal/imports', report, SECRETS.JOURNAL_AGENT)).status).toBe(202);
    const failed = { ...report, version: `${today}-dev-modelling.2`, ok: false, exitCode: 3, error: 'bad rows' };
    expect((await post('/api/journal/imports', failed)).status).toBe(202);
    const event = { cluster: 'dev-modelling', kind: 'uploaded', file: 'journal.dat', version: VERSION };
    expect((await post('/api/journal/events', event, SECRETS.JOURNAL_DEV)).status).toBe(202);
    metrics = await readMetrics();

    // --- more that logs: forged tokens and signatures, failing requests to URLs with ?token=
    const secretUrl = `http://127.0.0.1:${await closedPort()}/commands/T0000001/1/x?token=${SECRETS.URL_TOKEN}`;
    expect((await post('/api/journal/events', { ...event, kind: 'failed' }, `${SECRETS.JOURNAL_DEV}x`)).status).toBe(
      401,
    );
    const driver = new SlackDriver({ url: `${base}/slack/events`, signingSecret: SECRETS.SLACK_SIGNING_SECRET });
    expect((await driver.slashCommand({ text: 'list', user: 'U_DEMO' }, { secret: 'wrong' })).status).toBe(401);
    // Signed: acked, then the answer to a response_url that cannot be reached fails (logged; the inbox retries).
    expect((await driver.slashCommand({ text: 'frobnicate', user: 'U_DEMO', responseUrl: secretUrl })).status).toBe(
      200,
    );
    // Consul clients may send their ACL token as ?token=; a bad cas fails the request.
    const kv = await fetch(`${base}/v1/kv/journal_version/qa?cas=x&token=${SECRETS.CONSUL_HTTP_TOKEN}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${localToken}` },
      body: 'v',
    });
    expect(kv.status).toBeGreaterThanOrEqual(400);
    // The server's own logger, handed errors the way callers log them.
    server.runtime.log.error(
      { err: new Error(`GET ${secretUrl} failed: 502`), url: secretUrl },
      `fetch ${secretUrl} failed`,
    );
    server.runtime.log.debug(
      { headers: { authorization: `Bearer ${SECRETS.GITHUB_TOKEN}` }, env },
      'request with credentials',
    );
    await vi.waitFor(() => expect(lines.some((l) => l.includes('a Slack request failed'))).toBe(true), {
      timeout: 20_000,
    });
    await server.stop();
  });

  afterAll(async () => {
    await server?.stop();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('/metrics after a scripted session', () => {
    it('counts commands by command and outcome', () => {
      const c = (command: string, outcome: string) =>
        seriesValue(metrics.samples, 'conveyor_commands_total', { command, outcome });
      expect(metrics.type.get('conveyor_commands_total')).toBe('counter');
      expect(c('list', 'ok')).toBe(1);
      expect(c('promote', 'ok')).toBe(2);
      expect(c('approve', 'ok')).toBe(1);
      expect(c('approve', 'refused')).toBe(1);
      expect(c('unknown', 'usage')).toBe(1);
      const total = pick(metrics.samples, 'conveyor_commands_total').reduce((n, x) => n + x.value, 0);
      expect(total).toBe(6);
    });

    it('times operations by kind and result, as a histogram', () => {
      expect(metrics.type.get('conveyor_operation_duration_seconds')).toBe('histogram');
      const count = pick(metrics.samples, 'conveyor_operation_duration_seconds_count');
      expect(count.map((x) => [x.labels.kind, x.labels.result, x.value])).toEqual([['promote', 'succeeded', 2]]);
      const buckets = pick(metrics.samples, 'conveyor_operation_duration_seconds_bucket', {
        kind: 'promote',
        result: 'succeeded',
      });
      expect(buckets.find((b) => b.labels.le === '+Inf')?.value).toBe(2);
      expect(buckets.map((b) => b.labels.le)).toContain('3600');
      expect(
        seriesValue(metrics.samples, 'conveyor_operation_duration_seconds_sum', {
          kind: 'promote',
          result: 'succeeded',
        }),
      ).toBeGreaterThanOrEqual(0);
    });

    it('shows approvals pending while one waits, and none once it is approved', () => {
      expect(metrics.type.get('conveyor_approvals_pending')).toBe('gauge');
      expect(pendingWhileWaiting).toBe(1);
      expect(seriesValue(metrics.samples, 'conveyor_approvals_pending')).toBe(0);
    });

    it('counts journal export events and import reports by their labels', () => {
      expect(pick(metrics.samples, 'conveyor_journal_uploads_total').map((x) => [x.labels, x.value])).toEqual([
        [{ cluster: 'dev-modelling', result: 'uploaded' }, 1],
      ]);
      expect(seriesValue(metrics.samples, 'conveyor_journal_imports_total', { env: 'dev', result: 'ok' })).toBe(1);
      expect(seriesValue(metrics.samples, 'conveyor_journal_imports_total', { env: 'dev', result: 'failed' })).toBe(1);
    });

    it('counts Slack API errors by method and Slack error code', () => {
      const refused = fake.callsTo('chat.postMessage').filter((c) => c.outcome === 'not_in_channel').length;
      expect(refused).toBeGreaterThan(0);
      expect(pick(metrics.samples, 'conveyor_slack_api_errors_total').map((x) => [x.labels, x.value])).toEqual([
        [{ method: 'chat.postMessage', error: 'not_in_channel' }, refused],
      ]);
    });

    it('declares the series that only GitHub and the watches feed', () => {
      for (const [name, kind] of [
        ['conveyor_watch_reconnects_total', 'counter'],
        ['conveyor_slack_api_errors_total', 'counter'],
        ['conveyor_repo_poll_pass_seconds', 'histogram'],
        ['conveyor_repo_poll_overruns_total', 'counter'],
      ] as const) {
        expect(metrics.help.get(name), name).toBeTruthy();
        expect(metrics.type.get(name), name).toBe(kind);
      }
      // No watch ran in the sandbox: no labelled series.
      expect(pick(metrics.samples, 'conveyor_watch_reconnects_total')).toEqual([]);
    });

    it("carries Node's default process metrics under their standard names, without a prefix", () => {
      expect(seriesValue(metrics.samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(metrics.type.get('nodejs_heap_size_used_bytes')).toBe('gauge');
      expect(pick(metrics.samples, 'conveyor_process_resident_memory_bytes')).toEqual([]);
    });

    it.skipIf(!promtool)(
      'passes `promtool check metrics`: it parses, and no Conveyor series breaks a naming rule',
      () => {
        const result = spawnSync(promtool!, ['check', 'metrics'], { input: metricsText, encoding: 'utf8' });
        const problems = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean);
        // 0: clean; 3: lint findings only (1 would be a parse error).
        expect([0, 3], problems.join('\n')).toContain(result.status);
        // prom-client's own default gauges `nodejs_active_*_total` are the standard names the Node.js
        // dashboards use; every other finding is ours to fix.
        expect(problems.filter((p) => !/^nodejs_active_\w+_total /.test(p))).toEqual([]);
      },
    );

    it('shows no GitHub rate limit before GitHub was ever called (absent, not 0)', () => {
      expect(metrics.type.get('conveyor_github_rate_limit_remaining')).toBeUndefined();
      expect(pick(metrics.samples, 'conveyor_github_rate_limit_remaining')).toEqual([]);
    });
  });

  describe('logs of a session with real-looking secrets', () => {
    it('are JSON lines with a level and a message, warnings and errors among them', () => {
      expect(lines.length).toBeGreaterThan(5);
      for (const line of lines) {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
        expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], line).toContain(entry.level);
        expect(typeof entry.msg, line).toBe('string');
      }
      const byLevel = (level: string) =>
        lines
          .filter((l) => (JSON.parse(l) as { level: string }).level === level)
          .map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(byLevel('debug').length, 'debug lines (Bolt, the Web API client)').toBeGreaterThan(0);
      expect(byLevel('warn')).toContain('could not announce the operation');
      expect(byLevel('warn')).toContain('a Slack request failed; the inbox sweep tries again');
      expect(byLevel('error').length).toBeGreaterThan(0);
    });

    it('hold no secret value and no URL query string', () => {
      const all = lines.join('\n');
      expect(scrubbed.length).toBeGreaterThanOrEqual(6);
      for (const [name, value] of Object.entries(SECRETS)) expect(all.includes(value), name).toBe(false);
      expect(all).not.toMatch(/[?&]token=/);
      expect(all).not.toContain('cas=x');
      expect(all).toContain('[redacted]');
    });
  });
});

describe('scrubSecrets', () => {
  const ghp = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;

  it('removes token shapes wherever they sit', () => {
    const cases: [string, string][] = [
      [`token xoxb-123456789012-1234567890123-AbCdEf was revoked`, 'xoxb-1234'],
      [`{"t":"xapp-1-A0123-456-abcdef"}`, 'xapp-1-A0123'],
      [`auth=${ghp};`, ghp],
      [`github_pat_11ABCDEFG0123456789_abcdefghijklmnop`, 'github_pat_11ABC'],
      ['key AKIAIOSFODNN7EXAMPLE in use', 'AKIAIOSFODNN7EXAMPLE'],
      ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc', 'eyJhbGciOiJIUzI1NiJ9'],
      ['Authorization: basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA'],
      ['-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----', 'MIIEow'],
    ];
    for (const [input, secret] of cases) expect(scrubSecrets(input), input).not.toContain(secret);
  });

  it('keeps the user of a URL with credentials but not its password, whatever the scheme', () => {
    const cases: [string, string, string][] = [
      ['connect postgresql://app:p%40ss:w0rd!@db:5432/x failed', 'postgresql://app:[redacted]@db:5432/x', 'w0rd'],
      ['connect postgres://app:p@ss@db:5432/x failed', 'postgres://app:[redacted]@db:5432/x', 'ss@db'],
      [
        'clone https://x-access-token:s3cr3tPassw0rd@git.example.com/o/r.git',
        'https://x-access-token:[redacted]@git.example.com/',
        's3cr3t',
      ],
      ['amqp://guest:guestpass@mq:5672', 'amqp://guest:[redacted]@mq', 'guestpass'],
    ];
    for (const [input, kept, secret] of cases) {
      const out = scrubSecrets(input);
      expect(out, input).toContain(kept);
      expect(out, input).not.toContain(secret);
    }
  });

  it('drops URL query strings of any scheme, and credential parameters of relative URLs', () => {
    const out = scrubSecrets('GET https://hooks.example.com/a/b?token=abc123&x=1 and http://x.test/p?sig=zz');
    expect(out).toContain('https://hooks.example.com/a/b?[redacted]');
    expect(out).not.toContain('abc123');
    expect(out).not.toContain('sig=zz');
    expect(scrubSecrets('wss://wss-primary.slack.com/link/?ticket=T1cket&app_id=A1')).toBe(
      'wss://wss-primary.slack.com/link/?[redacted]',
    );
    const relative = scrubSecrets('{"url":"/v1/kv/journal_version/qa?cas=3&token=0b5e-uuid-like"}');
    expect(relative).not.toContain('0b5e-uuid-like');
    expect(relative).toContain('/v1/kv/journal_version/qa?cas=3&token=[redacted]');
  });

  it('drops what follows "token=", "token:" and "Bearer"', () => {
    expect(scrubSecrets('refused: token=opaqueValue123456 (expired)')).toBe('refused: token=[redacted] (expired)');
    expect(scrubSecrets('token: opaqueValue123456')).toBe('token: [redacted]');
    expect(scrubSecrets('Authorization: Bearer abc.def.ghi-jkl_mno')).toBe('Authorization: Bearer [redacted]');
  });

  it('removes the given secret values, inside other words and JSON-escaped', () => {
    const secret = 'hunter2-very-secret';
    const out = scrubSecrets(`{"a":"prefix${secret}suffix","b":"${secret}"}`, [secret, 'abc', '']);
    expect(out).not.toContain(secret);
    // Short values are not scrubbed: they would eat ordinary words.
    expect(out).toContain('prefix');
    const quoted = 'pa"ss\\word-42';
    expect(scrubSecrets(JSON.stringify({ v: quoted }), [quoted])).toBe('{"v":"[redacted]"}');
  });

  it('blanks JSON fields named like secrets at any depth', () => {
    const line = JSON.stringify({
      token: 'plain-top-level',
      a: { b: { password: 'deep-down-pw', botToken: 'camel-case-1' } },
      tokens: 3,
      msg: 'ok',
    });
    const out = scrubSecrets(line);
    for (const value of ['plain-top-level', 'deep-down-pw', 'camel-case-1']) expect(out).not.toContain(value);
    expect(JSON.parse(out)).toEqual({
      token: '[redacted]',
      a: { b: { password: '[redacted]', botToken: '[redacted]' } },
      tokens: 3,
      msg: 'ok',
    });
  });

  it('createLogger writes JSON lines with none of the secrets, fields at any depth included', () => {
    const written: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer | string, _enc, done) {
        written.push(chunk.toString());
        done();
      },
    });
    const secret = 'sv-"quoted"-secret';
    const log = createLogger({ destination, secrets: [secret], level: 'debug' });
    log.info({ token: 'top-level-token-1', nested: { deeper: { password: 'pw-deep-2' } }, value: secret }, 'hello');
    log.warn(
      { err: new Error(`GET https://api.example.com/x?access_token=qs-3 failed with ${secret}`) },
      'upstream failed',
    );
    const all = written.join('');
    for (const value of ['top-level-token-1', 'pw-deep-2', 'quoted', 'qs-3']) expect(all, value).not.toContain(value);
    for (const line of all.trim().split('\n'))
      expect(JSON.parse(line)).toMatchObject({
        level: expect.stringMatching(/^(info|warn|error)$/),
        msg: expect.any(String),
      });
  });

  it('leaves ordinary text alone', () => {
    for (const text of [
      'promote api qa: fast-forward 1a2b3c4 → 5d6e7f8 (tag qa/2026.01.02.1)',
      'Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN',
      '{"tokens":12,"keyPrefix":"journal_version/","url":"https://github.example/o/r/pull/3"}',
    ]) {
      expect(scrubSecrets(text)).toBe(text);
    }
  });
});
