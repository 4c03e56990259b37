/**
 * Observability of the real server (`startServer` on loopback, sandbox cwd):
 * - `/metrics` after a scripted session through `/api/run` and the journal API: the exposition
 *   text is parsed and each Conveyor series is checked by its labels and values.
 * - logs of a session with real-looking tokens (Slack live against the fake, warnings, errors,
 *   a Slack post refused with not_in_channel, a URL with `?token=`) hold none of them, and every
 *   line is JSON with `level` and `msg`; `scrubSecrets` on tricky inputs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSecrets, secretValues } from '../../src/config/secrets.js';
import { createLogger, scrubSecrets } from '../../src/core/log.js';
import { systemClock } from '../../src/core/ports.js';
import type { Reply } from '../../src/core/reply.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { clonedStore, copySandbox } from '../support/runtime.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';

// ------------------------------------------------------------ helpers

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition: HELP/TYPE per metric name and every sample with its labels. */
function parseExposition(text: string): { help: Map<string, string>; type: Map<string, string>; samples: Sample[] } {
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

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = pick(samples, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

interface Session {
  server: RunningServer;
  dir: string;
  base: string;
  token: string;
  run(text: string, user: string): Promise<Reply>;
  post(path: string, body: unknown, token?: string): Promise<{ status: number; json: unknown }>;
  metrics(): Promise<ReturnType<typeof parseExposition>>;
  close(): Promise<void>;
}

/** The real server on a copy of the sandbox, with an in-memory clone of the migrated store. */
async function openSession(options: { env?: NodeJS.ProcessEnv; log?: ReturnType<typeof pino>; prepare?: (sandboxDir: string) => void } = {}): Promise<Session> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-obs-'));
  const sandbox = await copySandbox(dir);
  options.prepare?.(sandbox.dir);
  console.error('SANDBOX', Date.now() - t0);
  const store = await clonedStore(systemClock);
  console.error('STORE', Date.now() - t0);
  const server = await startServer({
    cwd: dir,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    env: options.env ?? {},
    log: options.log ?? pino({ level: 'silent' }),
    compose: { store },
  });
  console.error('STARTED', Date.now() - t0);
  const info = JSON.parse(readFileSync(join(sandbox.dir, 'serve.json'), 'utf8')) as { port: number; token: string };
  expect(info.port).toBe(server.port);
  const base = `http://127.0.0.1:${server.port}`;
  const post = async (path: string, body: unknown, token = info.token) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as unknown };
  };
  return {
    server,
    dir,
    base,
    token: info.token,
    post,
    async run(text, user) {
      const t0 = Date.now();
      const res = await post('/api/run', { text, user });
      console.error('RUN', text, Date.now() - t0);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return res.json as Reply;
    },
    async metrics() {
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return parseExposition(await res.text());
    },
    async close() {
      const t1 = Date.now();
      await server.stop();
      console.error('STOP', Date.now() - t1);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const today = new Date().toISOString().slice(0, 10).replaceAll('-', '.');
const VERSION = `${today}-dev-modelling.1`;

// ------------------------------------------------------------ metrics

describe('/metrics after a scripted session', () => {
  let s: Session;
  let pendingWhileWaiting: number | undefined;
  let text: ReturnType<typeof parseExposition>;

  beforeAll(async () => {
    s = await openSession();
    expect((await s.run('list', 'U_DEMO')).status).toBe('ok');
    expect((await s.run('promote api', 'U_DEMO')).operation?.state).toBe('succeeded');
    const staging = await s.run('promote api staging', 'U_DEMO');
    expect(staging.operation?.state).toBe('awaiting-approval');
    pendingWhileWaiting = valueOf((await s.metrics()).samples, 'conveyor_approvals_pending');
    // Refused: the requester may not approve their own request.
    expect((await s.run(`approve ${staging.operation!.id}`, 'U_DEMO')).status).toBe('refused');
    expect((await s.run(`approve ${staging.operation!.id}`, 'U_QA')).operation?.state).toBe('succeeded');
    expect((await s.run('frobnicate everything', 'U_DEMO')).status).toBe('usage');
    // A wrong local token is turned away and counts as no command.
    expect((await s.post('/api/run', { text: 'list', user: 'U_DEMO' }, 'not-the-token')).status).toBe(401);
    const report = { env: 'dev', version: VERSION, ok: true, exitCode: 0, durationMs: 1200, outputTail: 'imported 42 rows' };
    expect((await s.post('/api/journal/imports', report)).status).toBe(202);
    expect((await s.post('/api/journal/imports', { ...report, version: `${today}-dev-modelling.2`, ok: false, exitCode: 3, error: 'bad rows' })).status).toBe(202);
    expect((await s.post('/api/journal/events', { cluster: 'dev-modelling', kind: 'uploaded', file: 'journal.dat', version: VERSION })).status).toBe(202);
    text = await s.metrics();
  });

  afterAll(async () => {
    await s?.close();
  });

  it('counts commands by command and outcome', () => {
    const c = (command: string, outcome: string) => valueOf(text.samples, 'conveyor_commands_total', { command, outcome });
    expect(text.type.get('conveyor_commands_total')).toBe('counter');
    expect(c('list', 'ok')).toBe(1);
    expect(c('promote', 'ok')).toBe(2);
    expect(c('approve', 'ok')).toBe(1);
    expect(c('approve', 'refused')).toBe(1);
    expect(c('unknown', 'usage')).toBe(1);
    const total = pick(text.samples, 'conveyor_commands_total').reduce((n, x) => n + x.value, 0);
    expect(total).toBe(6);
  });

  it('times operations by kind and result, as a histogram', () => {
    expect(text.type.get('conveyor_operation_duration_seconds')).toBe('histogram');
    const count = pick(text.samples, 'conveyor_operation_duration_seconds_count');
    expect(count.map((x) => [x.labels.kind, x.labels.result, x.value])).toEqual([['promote', 'succeeded', 2]]);
    const buckets = pick(text.samples, 'conveyor_operation_duration_seconds_bucket', { kind: 'promote', result: 'succeeded' });
    expect(buckets.find((b) => b.labels.le === '+Inf')?.value).toBe(2);
    expect(buckets.map((b) => b.labels.le)).toContain('3600');
    expect(valueOf(text.samples, 'conveyor_operation_duration_seconds_sum', { kind: 'promote', result: 'succeeded' })).toBeGreaterThanOrEqual(0);
  });

  it('shows approvals pending while one waits, and none once it is approved', () => {
    expect(text.type.get('conveyor_approvals_pending')).toBe('gauge');
    expect(pendingWhileWaiting).toBe(1);
    expect(valueOf(text.samples, 'conveyor_approvals_pending')).toBe(0);
  });

  it('counts journal export events and import reports by their labels', () => {
    expect(pick(text.samples, 'conveyor_journal_uploads_total').map((x) => x.labels)).toEqual([{ cluster: 'dev-modelling', result: 'uploaded' }]);
    expect(valueOf(text.samples, 'conveyor_journal_uploads_total', { cluster: 'dev-modelling', result: 'uploaded' })).toBe(1);
    expect(valueOf(text.samples, 'conveyor_journal_imports_total', { env: 'dev', result: 'ok' })).toBe(1);
    expect(valueOf(text.samples, 'conveyor_journal_imports_total', { env: 'dev', result: 'failed' })).toBe(1);
  });

  it('declares the series that only GitHub, watches and Slack feed', () => {
    for (const [name, kind] of [
      ['conveyor_github_rate_limit_remaining', 'gauge'],
      ['conveyor_watch_reconnects_total', 'counter'],
      ['conveyor_slack_api_errors_total', 'counter'],
    ] as const) {
      expect(text.help.get(name), name).toBeTruthy();
      expect(text.type.get(name), name).toBe(kind);
    }
    // Nothing happened to them in the sandbox: no labelled series.
    expect(pick(text.samples, 'conveyor_watch_reconnects_total')).toEqual([]);
    expect(pick(text.samples, 'conveyor_slack_api_errors_total')).toEqual([]);
  });

  it('carries the process metrics under the conveyor_ prefix', () => {
    expect(valueOf(text.samples, 'conveyor_process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

// ------------------------------------------------------------ logs

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

/** A remote whose URL carries its credentials in the query string; nothing listens there. */
const SECRET_REMOTE = `http://127.0.0.1:9/ghost.git?token=${SECRETS.URL_TOKEN}`;

describe('logs of a session with real-looking secrets', () => {
  let s: Session;
  let fake: SlackFake;
  const lines: string[] = [];
  let scrubbed: string[] = [];

  beforeAll(async () => {
    fake = await SlackFake.start({ token: SECRETS.SLACK_BOT_TOKEN });
    const env: NodeJS.ProcessEnv = {
      SLACK_BOT_TOKEN: SECRETS.SLACK_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SECRETS.SLACK_SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
      GITHUB_TOKEN: SECRETS.GITHUB_TOKEN,
      DATABASE_URL: `postgres://conveyor:${SECRETS.DB_PASSWORD}@db.internal:5432/conveyor`,
      CONSUL_HTTP_TOKEN: SECRETS.CONSUL_HTTP_TOKEN,
      JOURNAL_TOKENS: `dev-modelling=${SECRETS.JOURNAL_DEV},dev=${SECRETS.JOURNAL_AGENT}`,
    };
    scrubbed = secretValues(readSecrets(env));
    let pending = '';
    const destination = new Writable({
      write(chunk: Buffer | string, _enc, done) {
        pending += chunk.toString();
        const parts = pending.split('\n');
        pending = parts.pop() ?? '';
        lines.push(...parts.filter(Boolean));
        done();
      },
    });
    const log = createLogger({ destination, secrets: scrubbed, level: 'debug' });
    s = await openSession({
      env,
      log,
      prepare: (sandboxDir) => {
        const file = join(sandboxDir, 'conveyor.yaml');
        writeFileSync(file, readFileSync(file, 'utf8').replace('apps:\n', `apps:\n  - name: ghost\n    repo: "${SECRET_REMOTE}"\n`));
      },
    });
    fake.leaveChannel('#deploys-qa');

    // A promotion whose announcement Slack refuses (not_in_channel): a warning.
    expect((await s.run('promote api', 'U_DEMO')).operation?.state).toBe('succeeded');
    // A remote with ?token= in its URL that cannot be reached: errors and warnings.
    await s.run('list ghost', 'U_DEMO');
    await s.run('promote ghost qa', 'U_DEMO');
    await s.run('diff development qa ghost', 'U_DEMO');
    // Journal API: an agent's report with its token, and a forged token.
    await s.post('/api/journal/imports', { env: 'dev', version: VERSION, ok: false, exitCode: 1, durationMs: 5, outputTail: '', error: 'failed' }, SECRETS.JOURNAL_AGENT);
    expect((await s.post('/api/journal/events', { cluster: 'dev-modelling', kind: 'failed', file: 'x.dat' }, `${SECRETS.JOURNAL_AGENT}x`)).status).toBe(401);
    // Slack: a correctly signed slash command, and a forged one.
    const driver = new SlackDriver({ url: `${s.base}/slack/events`, signingSecret: SECRETS.SLACK_SIGNING_SECRET });
    expect((await driver.slashCommand({ text: 'list', user: 'U_DEMO', responseUrl: fake.responseUrl() })).status).toBe(200);
    expect((await driver.slashCommand({ text: 'list', user: 'U_DEMO' }, { secret: 'wrong' })).status).toBe(401);
    expect((await driver.slashCommand({ text: 'frobnicate', user: 'U_DEMO', responseUrl: SECRET_REMOTE })).status).toBe(200);
    const kv = await fetch(`${s.base}/v1/kv/journal_version/dev?cas=x&token=${SECRETS.CONSUL_HTTP_TOKEN}`, { method: 'PUT', headers: { authorization: `Bearer ${s.token}` }, body: 'v' });
    console.error('KV', kv.status, await kv.text());
    await new Promise((r) => setTimeout(r, 3000));
    // The server's own logger, handed an error the way a caller would log one.
    s.server.runtime.log.error({ err: new Error(`GET ${SECRET_REMOTE} failed: 502`), url: SECRET_REMOTE }, `fetch ${SECRET_REMOTE} failed`);
    s.server.runtime.log.debug({ headers: { authorization: `Bearer ${SECRETS.GITHUB_TOKEN}` }, env }, 'request with credentials');
    await s.close();
    (await import('node:fs')).writeFileSync('/tmp/obs-lines.txt', lines.join('\n'));
  });

  afterAll(async () => {
    await fake?.close();
  });

  it('captured lines are JSON with a level and a message', () => {
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      expect(typeof entry.level, line).toBe('number');
      expect(typeof entry.msg, line).toBe('string');
    }
    const levels = new Set(lines.map((l) => (JSON.parse(l) as { level: number }).level));
    expect(levels.has(40), 'a warning').toBe(true);
    expect(levels.has(50), 'an error').toBe(true);
    // The session did what it was asked: Slack refused the announcement, the token was used.
    expect(fake.callsTo('chat.postMessage').some((c) => c.outcome === 'not_in_channel')).toBe(true);
    expect(lines.some((l) => l.includes('could not announce'))).toBe(true);
  });

  it('holds no secret value and no URL query string', () => {
    const all = lines.join('\n');
    expect(scrubbed.length).toBeGreaterThanOrEqual(6);
    for (const [name, value] of Object.entries(SECRETS)) expect(all.includes(value), name).toBe(false);
    expect(all).not.toContain('token=qs');
    expect(all).not.toMatch(/\?token=/);
    expect(all).toContain('[redacted]');
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

  it('keeps the user of a database URL but not its password, even one with odd characters', () => {
    const out = scrubSecrets('connect postgresql://app:p%40ss:w0rd!@db:5432/x failed');
    expect(out).toContain('postgresql://app:');
    expect(out).not.toContain('w0rd');
    expect(out).not.toContain('p%40ss');
  });

  it('drops URL query strings but keeps the path', () => {
    const out = scrubSecrets('GET https://hooks.example.com/a/b?token=abc123&x=1 and http://x.test/p?sig=zz');
    expect(out).toContain('https://hooks.example.com/a/b?[redacted]');
    expect(out).not.toContain('abc123');
    expect(out).not.toContain('sig=zz');
  });

  it('removes the given secret values, even inside other words or JSON escapes', () => {
    const secret = 'hunter2-very-secret';
    const out = scrubSecrets(`{"a":"prefix${secret}suffix","b":"${secret}"}`, [secret, 'abc', '']);
    expect(out).not.toContain(secret);
    // Short values are not scrubbed: they would eat ordinary words.
    expect(out).toContain('prefix');
  });

  it('leaves ordinary text alone', () => {
    const text = 'promote api qa: fast-forward 1a2b3c4 → 5d6e7f8 (tag qa/2026.01.02.1)';
    expect(scrubSecrets(text)).toBe(text);
  });
});
