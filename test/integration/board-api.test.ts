/**
 * The HTTP API against its own description: `GET /api/openapi.json` is fetched from a running
 * serve (sandbox), then every documented route is called for real — successes, refusals and bad
 * input — and each answer's status must be documented and its body must match the documented
 * schema (JSON, and NDJSON line by line for `/api/audit`), checked with ajv (JSON Schema
 * 2020-12, as OpenAPI 3.1 uses). The request bodies sent are checked against the description
 * too. Every documented route must have been exercised. Also: the audit export's filters,
 * paging past a page of lines, and its refusals.
 */
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  startJournalServer,
} from '../support/journal-setup.js';

type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

interface Doc {
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: { content: Record<string, { schema: unknown }> };
        responses: Record<string, { content?: Record<string, { schema?: unknown; itemSchema?: unknown }> }>;
      }
    >
  >;
}

const QA_TOKEN = 'qa-execution-token-0123456789';
const DEV_TOKEN = 'dev-modelling-token-0123456789';
const HOOK_SECRET = 'github-webhook-secret-for-the-api-test';
const REGISTRY_TOKEN = 'registry-webhook-token-0123456789';
const signed = (body: string, secret = HOOK_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

let ws: JournalWorkspace;
let srv: JournalServer;
let doc: Doc;
let ajv: Ajv2020;
const exercised = new Set<string>();

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

function validate(ref: string, value: unknown): string[] {
  const check = ajv.getSchema(`openapi#/${ref}`) ?? ajv.compile({ $ref: `openapi#/${ref}` });
  return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Call a route and check the answer against the description. */
async function call(
  method: string,
  template: string,
  path: string,
  options: { token?: string | null; body?: unknown; headers?: Record<string, string>; contentType?: string } = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  if (options.body !== undefined && (typeof options.body !== 'string' || options.contentType) && op!.requestBody) {
    // What we send as a valid request must be valid by the description (bad ones are sent as strings).
    expect(
      validate(
        pointer(
          'paths',
          template,
          method.toLowerCase(),
          'requestBody',
          'content',
          options.contentType ?? 'application/json',
          'schema',
        ),
        options.body,
      ),
      `${method} ${template} request body`,
    ).toEqual([]);
  }
  const token = options.token === undefined ? srv.token : options.token;
  const send = () =>
    fetch(`${srv.baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...options.headers,
      },
      body:
        options.body === undefined
          ? undefined
          : typeof options.body === 'string'
            ? options.body
            : JSON.stringify(options.body),
    });
  // A GET on a kept-alive connection that serve closed while idle (5 s; writing many audit lines
  // under load takes longer) is reset: a client retries an idempotent request once.
  const res = await send().catch((err: { cause?: { code?: string } }) => {
    if (method === 'GET' && err.cause?.code === 'ECONNRESET') return send();
    throw err;
  });
  const text = await res.text();
  const documented = op!.responses[String(res.status)];
  expect(
    documented,
    `${method} ${template} answered ${res.status}, which is not documented: ${text.slice(0, 200)}`,
  ).toBeDefined();
  const media = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (!documented!.content) {
    // A redirect: documented without a body.
    exercised.add(`${method.toLowerCase()} ${template}`);
    return { status: res.status, text, headers: res.headers };
  }
  const content = documented!.content?.[media];
  expect(content, `${method} ${template} ${res.status} as ${media} is documented`).toBeDefined();
  const base = pointer('paths', template, method.toLowerCase(), 'responses', String(res.status), 'content', media);
  if (media === 'application/json')
    expect(validate(`${base}/schema`, JSON.parse(text)), `${method} ${template} ${res.status}`).toEqual([]);
  else if (media === 'application/x-ndjson') {
    for (const line of text.split('\n').filter(Boolean))
      expect(validate(`${base}/itemSchema`, JSON.parse(line)), `${method} ${template} line`).toEqual([]);
  } else expect(validate(`${base}/schema`, text)).toEqual([]);
  exercised.add(`${method.toLowerCase()} ${template}`);
  return { status: res.status, text, headers: res.headers };
}

describe('the HTTP API answers as its OpenAPI description says', () => {
  beforeAll(async () => {
    ws = await makeJournalWorkspace();
    srv = await startJournalServer(ws, {
      JOURNAL_TOKENS: `qa-execution=${QA_TOKEN},dev-modelling=${DEV_TOKEN}`,
      GITHUB_WEBHOOK_SECRET: HOOK_SECRET,
      REGISTRY_WEBHOOK_TOKEN: REGISTRY_TOKEN,
    });
    const res = await fetch(`${srv.baseUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc, 'openapi');
  }, 120_000);

  afterAll(async () => {
    await srv?.stop();
    ws?.remove();
  });

  it('describes itself as OpenAPI 3.1 and validates as a schema document', async () => {
    expect((doc as unknown as { openapi: string }).openapi).toBe('3.1.0');
    await call('GET', '/api/openapi.json', '/api/openapi.json', { token: null });
  });

  it('health, readiness and metrics', async () => {
    expect((await call('GET', '/healthz', '/healthz', { token: null })).status).toBe(200);
    expect((await call('GET', '/readyz', '/readyz', { token: null })).status).toBe(200);
    const metrics = await call('GET', '/metrics', '/metrics', { token: null });
    expect(metrics.text).toMatch(/^# HELP /m);
  });

  it('/api/run: a reply, and each refusal', async () => {
    const ok = await call('POST', '/api/run', '/api/run', {
      body: { text: 'promote api', user: 'U_DEMO', idempotencyKey: 'k-1' },
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).operation.state).toBe('succeeded');
    expect(
      (await call('POST', '/api/run', '/api/run', { body: { text: 'list', user: 'U_DEMO', idempotencyKey: 'k-1' } }))
        .status,
    ).toBe(409);
    expect((await call('POST', '/api/run', '/api/run', { token: null, body: { text: 'list' } })).status).toBe(401);
    expect((await call('POST', '/api/run', '/api/run', { body: '{"text": 5}' })).status).toBe(400);
    const { token } = await srv.server.runtime.tokens.create('U_QA', 'api test');
    expect((await call('POST', '/api/run', '/api/run', { token, body: { text: 'list', user: 'U_DEMO' } })).status).toBe(
      403,
    );
    expect((await call('POST', '/api/run', '/api/run', { token, body: { text: 'list' } })).status).toBe(200);
  });

  it('/api/audit: NDJSON lines, filters, refusals', async () => {
    const all = await call('GET', '/api/audit', '/api/audit?since=1h');
    const lines = all.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: number; action: string; operationId: string | null });
    expect(lines.length).toBeGreaterThan(3);
    // Oldest first, each line once.
    expect(lines.map((l) => l.id)).toEqual([...lines.map((l) => l.id)].sort((a, b) => a - b));
    expect(lines[0]!.action).toBe('operation.requested');
    const some = await call('GET', '/api/audit', '/api/audit?action=operation.&limit=2');
    expect(
      some.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).action),
    ).toEqual(['operation.requested', 'operation.approved']);
    const none = await call(
      'GET',
      '/api/audit',
      `/api/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(none.text).toBe('');
    // Strict parameters: each refusal is one line naming the parameter.
    const refused = async (query: string) => {
      const r = await call('GET', '/api/audit', `/api/audit?${query}`);
      expect(r.status, query).toBe(400);
      return (JSON.parse(r.text) as { error: string }).error;
    };
    expect(await refused('since=yesterday')).toMatch(/^since: an ISO time \(2026-11-25T08:00:00Z\), a date/);
    expect(await refused('since=2026-02-31')).toMatch(/^since: /); // no such day (Date.parse would roll over)
    expect(await refused('since=999999d')).toMatch(/^since: .*at most 36500d/); // before year 1: never a 500
    expect(await refused('since=1969-12-31')).toMatch(/^since: .*from 1970 on$/);
    expect(await refused('since=')).toBe('since: empty; leave it out or give a value');
    expect(await refused('since=1h&since=2h')).toBe('since: given 2 times; give it once');
    expect(await refused('sinse=1h')).toBe(
      'sinse: not a parameter of the export (since, action, actor, operation, limit)',
    );
    expect(await refused('limit=0')).toBe('limit: a whole number from 1 to 100000');
    expect(await refused('limit=100001')).toBe('limit: a whole number from 1 to 100000');
    expect(await refused('limit=-1')).toBe('limit: a whole number from 1 to 100000');
    expect(await refused('limit=1e3')).toBe('limit: a whole number from 1 to 100000');
    const one = await call('GET', '/api/audit', '/api/audit?limit=1&since=2026-01-01T00:00:00%2B01:00');
    expect(one.text.trim().split('\n')).toHaveLength(1);
    // A control character in a filter is a refusal, never a database fault or an empty 200.
    expect((await call('GET', '/api/audit', '/api/audit?actor=%00')).status).toBe(400);
    expect((await call('GET', '/api/audit', `/api/audit?action=${'a'.repeat(300)}`)).status).toBe(400);
    expect((await call('GET', '/api/audit', '/api/audit', { token: null })).status).toBe(401);
    expect(
      (
        await call('GET', '/api/audit', '/api/audit', {
          token: 'cvy_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
        })
      ).status,
    ).toBe(401);
  });

  it('/api/audit pages through more lines than one query returns', async () => {
    // 1050 lines written through the store's audit port: two full export pages (500) and a part.
    for (let i = 0; i < 1050; i++) await srv.server.runtime.store.audit('U_BULK', 'bulk.line', null, { i });
    const res = await call('GET', '/api/audit', '/api/audit?actor=U_BULK');
    const got = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).detail.i as number);
    expect(got).toEqual(Array.from({ length: 1050 }, (_, i) => i));
  }, 180_000);

  it('the journal routes: list, one, latest, register, reports and events', async () => {
    expect((await call('GET', '/api/journal/versions/latest', '/api/journal/versions/latest')).status).toBe(404);
    const content = 'journal body for the API description test\n';
    const version = '2026.11.25-dev-modelling.1';
    const file = 'model-2026-11-25.jnl';
    const objectKey = `journals/dev-modelling/${version}/${file}`;
    const sha256 = createHash('sha256').update(content).digest('hex');
    await srv.server.runtime.objects.put(objectKey, Readable.from([Buffer.from(content)]), {
      size: Buffer.byteLength(content),
      metadata: { version, cluster: 'dev-modelling', sha256, mandators: 'tech-head', file },
    });
    const registration = {
      version,
      cluster: 'dev-modelling',
      file,
      size: Buffer.byteLength(content),
      sha256,
      mandators: ['tech-head'],
      objectKey,
      uploadedAt: new Date().toISOString(),
    };
    expect(
      (await call('POST', '/api/journal/versions', '/api/journal/versions', { token: null, body: registration }))
        .status,
    ).toBe(401);
    expect(
      (await call('POST', '/api/journal/versions', '/api/journal/versions', { token: QA_TOKEN, body: registration }))
        .status,
    ).toBe(403);
    expect(
      (await call('POST', '/api/journal/versions', '/api/journal/versions', { body: '{"version": "x"}' })).status,
    ).toBe(400);
    expect(
      (
        await call('POST', '/api/journal/versions', '/api/journal/versions', {
          token: DEV_TOKEN,
          body: { ...registration, size: 1 },
        })
      ).status,
    ).toBe(409);
    expect(
      (await call('POST', '/api/journal/versions', '/api/journal/versions', { token: DEV_TOKEN, body: registration }))
        .status,
    ).toBe(201);
    expect(
      (await call('POST', '/api/journal/versions', '/api/journal/versions', { token: DEV_TOKEN, body: registration }))
        .status,
    ).toBe(200);
    expect((await call('GET', '/api/journal/versions', '/api/journal/versions?cluster=dev-modelling')).status).toBe(
      200,
    );
    expect((await call('GET', '/api/journal/versions', '/api/journal/versions?day=yesterday')).status).toBe(400);
    expect((await call('GET', '/api/journal/versions/latest', '/api/journal/versions/latest')).status).toBe(200);
    expect((await call('GET', '/api/journal/versions/{id}', `/api/journal/versions/${version}`)).status).toBe(200);
    expect(
      (await call('GET', '/api/journal/versions/{id}', '/api/journal/versions/2026.11.25-dev-modelling.9')).status,
    ).toBe(404);
    expect((await call('GET', '/api/journal/versions/{id}', '/api/journal/versions/not-a-version')).status).toBe(400);

    const report = { env: 'qa', version, ok: true, exitCode: 0, durationMs: 12, outputTail: 'imported' };
    expect(
      (await call('POST', '/api/journal/imports', '/api/journal/imports', { token: null, body: report })).status,
    ).toBe(401);
    expect(
      (await call('POST', '/api/journal/imports', '/api/journal/imports', { token: DEV_TOKEN, body: report })).status,
    ).toBe(403);
    expect((await call('POST', '/api/journal/imports', '/api/journal/imports', { body: '{"env": 1}' })).status).toBe(
      400,
    );
    expect((await call('POST', '/api/journal/imports', '/api/journal/imports', { body: report })).status).toBe(202);

    const event = { cluster: 'dev-modelling', kind: 'waiting', file, reason: 'no sidecar yet' };
    expect(
      (await call('POST', '/api/journal/events', '/api/journal/events', { token: null, body: event })).status,
    ).toBe(401);
    expect(
      (await call('POST', '/api/journal/events', '/api/journal/events', { token: QA_TOKEN, body: event })).status,
    ).toBe(403);
    expect((await call('POST', '/api/journal/events', '/api/journal/events', { body: '[]' })).status).toBe(400);
    expect(
      (await call('POST', '/api/journal/events', '/api/journal/events', { token: DEV_TOKEN, body: event })).status,
    ).toBe(202);
  });

  it('board pages take hostile input as text: escaped, refused with a page, never a fault', async () => {
    const get = async (path: string) => {
      const res = await fetch(`${srv.baseUrl}${path}`, { redirect: 'manual' });
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        csp: res.headers.get('content-security-policy'),
        text: await res.text(),
      };
    };
    const evil = '<script>alert(1)</script>';
    const op = await get(`/ops/${encodeURIComponent(evil)}`);
    expect([op.status, op.type]).toEqual([404, 'text/html; charset=utf-8']);
    expect(op.text).not.toContain(evil);
    expect(op.csp).toContain("default-src 'none'");
    const since = await get(`/audit?since=${encodeURIComponent(evil)}`);
    expect(since.status).toBe(400);
    expect(since.text).toContain('since: an ISO time');
    expect(since.text).not.toContain(evil);
    const action = await get(`/audit?action=${encodeURIComponent(evil)}`);
    expect(action.status).toBe(400);
    const nul = await get('/audit?actor=abc%00');
    expect([nul.status, nul.type]).toEqual([400, 'text/html; charset=utf-8']);
    expect(nul.text).toContain('actor: printable characters only');
    const long = await get(`/audit?action=${'a'.repeat(300)}`);
    expect(long.text).toContain('action: at most 81 characters');
    const history = await get(`/history?state=${encodeURIComponent(evil)}&env=${'x'.repeat(5000)}`);
    expect([history.status, history.type]).toEqual([400, 'text/html; charset=utf-8']);
    expect(history.text).toContain('env: one of');
    expect(history.text).not.toContain(evil);
    const state = await get('/history?state=bogus');
    expect([state.status, state.text.includes('state: one of requested')]).toEqual([400, true]);
    expect((await get('/history?app=api&state=succeeded')).status).toBe(200);
    // The sandbox board is open: /login goes home.
    expect((await get('/login')).status).toBe(303);
  });

  it('the webhooks and the embedded key-value store', async () => {
    // The registry webhook: a generic push names no image app here (the sandbox has none).
    const push = { repository: 'registry.example.com/team/worker', tag: '1.4.2' };
    expect((await call('POST', '/hooks/registry', '/hooks/registry', { token: null, body: push })).status).toBe(401);
    expect((await call('POST', '/hooks/registry', '/hooks/registry', { token: 'wrong', body: push })).status).toBe(401);
    expect(
      (await call('POST', '/hooks/registry', '/hooks/registry', { token: REGISTRY_TOKEN, body: '{"nothing": 1}' }))
        .status,
    ).toBe(400);
    const looked = await call('POST', '/hooks/registry', '/hooks/registry', { token: REGISTRY_TOKEN, body: push });
    expect([looked.status, JSON.parse(looked.text)]).toEqual([202, { looking: [] }]);
    expect(
      (await call('POST', '/hooks/registry', `/hooks/registry?token=${REGISTRY_TOKEN}`, { token: null, body: push }))
        .status,
    ).toBe(202);

    // GitHub: a signed delivery of an event Conveyor does not use is acknowledged; bad ones refused.
    const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const gh = (body: string, headers: Record<string, string>) =>
      call('POST', '/github/webhooks', '/github/webhooks', { token: null, body, headers });
    const delivery = 'b1a2c3d4-0000-4000-8000-00000000abcd';
    const good = { 'x-github-event': 'ping', 'x-github-delivery': delivery, 'x-hub-signature-256': signed(ping) };
    expect((await gh(ping, good)).status).toBe(200);
    expect(JSON.parse((await gh(ping, good)).text)).toEqual({ ok: true, duplicate: true });
    expect((await gh(ping, { ...good, 'x-hub-signature-256': signed(ping, 'forged') })).status).toBe(401);
    expect((await gh(ping, { ...good, 'x-github-delivery': '' })).status).toBe(400);
    const notObject = '[1]';
    expect((await gh(notObject, { ...good, 'x-hub-signature-256': signed(notObject) })).status).toBe(400);

    // The embedded Consul-shaped store: serve's local token writes, a cluster token reads.
    const key = '/v1/kv/journal_version/qa';
    expect((await call('GET', '/v1/kv/{key}', key, { token: null })).status).toBe(403);
    expect((await call('GET', '/v1/kv/{key}', '/v1/kv/journal_version/nowhere', { token: QA_TOKEN })).status).toBe(404);
    expect((await call('GET', '/v1/kv/{key}', '/v1/kv/journal_version/%E0%A4%A', { token: QA_TOKEN })).status).toBe(
      400,
    );
    const version = '2026.11.25-dev-modelling.1';
    const put = (path: string, body: string, token: string | null = srv.token) =>
      call('PUT', '/v1/kv/{key}', path, { token, body, contentType: 'text/plain' });
    expect((await put(key, version, QA_TOKEN)).status).toBe(403);
    expect((await put(key, 'not a version')).status).toBe(400);
    const wrote = await put(`${key}?cas=0`, version);
    expect([wrote.status, wrote.text]).toEqual([200, 'true']);
    const read = await call('GET', '/v1/kv/{key}', key, { token: QA_TOKEN });
    expect(Buffer.from(JSON.parse(read.text)[0].Value, 'base64').toString()).toBe(version);
  });

  it('the board pages, live feed, login and logout answer as described', async () => {
    for (const path of ['/', '/history', '/audit', '/journals', '/signed-out'])
      expect((await call('GET', path, path, { token: null })).status, path).toBe(200);
    expect((await call('GET', '/history', '/history?state=bogus', { token: null })).status).toBe(400);
    expect((await call('GET', '/audit', '/audit?since=2026-02-31', { token: null })).status).toBe(400);
    const ops = await srv.server.runtime.store.operations({ limit: 1 });
    expect((await call('GET', '/ops/{id}', `/ops/${ops[0]!.id}`, { token: null })).status).toBe(200);
    expect((await call('GET', '/ops/{id}', '/ops/op_doesnotexist0', { token: null })).status).toBe(404);
    const login = await call('GET', '/login', '/login', { token: null });
    expect([login.status, login.headers.get('location')]).toEqual([303, '/']);
    // GET /logout is a page (signing out is a POST); the open sandbox board says there is nothing to end.
    const logout = await call('GET', '/logout', '/logout', { token: null });
    expect(logout.status).toBe(200);
    expect(logout.text).toContain('Nothing to sign out of');
    const out = await call('POST', '/logout', '/logout', { token: null });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/signed-out']);
    // The live feed streams: its status and media type are checked, then it is closed.
    const stop = new AbortController();
    const res = await fetch(`${srv.baseUrl}/events`, { signal: stop.signal });
    const media = (res.headers.get('content-type') ?? '').split(';')[0]!;
    expect(doc.paths['/events']!.get!.responses[String(res.status)]?.content?.[media]).toBeDefined();
    expect([res.status, media]).toEqual([200, 'text/event-stream']);
    stop.abort();
    exercised.add('get /events');
  });

  it('every documented route was exercised', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(documented.filter((d) => !exercised.has(d))).toEqual([]);
  });
});
