/**
 * `http` checks against a local server the test controls: a pass (status, body, JSON path), a
 * failure, a timeout, retries that end in a pass, an unreachable port (never a pass), the URL
 * filled with the app, environment and version, and a query string that never reaches the output.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHttpCheck } from '../../src/verify/http-check.js';
import { checkSchema, type HttpCheck } from '../../src/verify/schema.js';
import type { TemplateVars } from '../../src/verify/template.js';

const vars: TemplateVars = {
  app: 'api',
  env: 'qa',
  version: '1.4.1',
  sha: 'b'.repeat(40),
  tag: 'qa/2026.11.26.1',
  operation: 'op_http',
  namespace: 'qa',
  backup: '',
};

describe('http checks', () => {
  let server: Server;
  let base: string;
  const hits: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  /** What the server answers each request to a path with (by arrival order). */
  let handler: (req: IncomingMessage, res: ServerResponse, n: number) => void = (_q, res) => res.end();

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      handler(req, res, hits.length);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const check = (over: Record<string, unknown>) =>
    checkSchema.parse({ kind: 'http', name: 'smoke', interval: '10ms', ...over }) as HttpCheck;
  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  it('passes on the expected status, body and JSON value, at the URL filled with app, env and version', async () => {
    hits.length = 0;
    handler = (_q, res) => json(res, 200, { status: 'ok', build: { version: '1.4.1' }, ready: 3 });
    const result = await runHttpCheck(
      check({
        url: `${base}/{app}/{env}/health?version={version}&tag={tag}`,
        headers: { 'X-Deploy': '{app}@{version}' },
        expect: { status: 200, bodyMatches: '"status":"ok"', json: { path: '$.build.version', equals: '1.4.1' } },
      }),
      vars,
    );
    expect(result).toEqual({
      status: 'passed',
      output: `GET ${base}/api/qa/health: status 200, $.build.version is "1.4.1"`,
    });
    expect(hits).toHaveLength(1);
    expect(hits[0]!.url).toBe('/api/qa/health?version=1.4.1&tag=qa%2F2026.11.26.1');
    expect(hits[0]!.headers['x-deploy']).toBe('api@1.4.1');
  });

  it('a JSON condition on a number', async () => {
    handler = (_q, res) => json(res, 200, { ready: 2 });
    const c = check({ url: `${base}/ready`, expect: { json: { path: '$.ready', condition: '>= 3' } } });
    expect(await runHttpCheck(c, vars)).toEqual({
      status: 'failed',
      output: `1 of 1 measurement failed (limit 0): GET ${base}/ready: $.ready is 2, expected >= 3`,
    });
  });

  it('fails on another status, and says which', async () => {
    handler = (_q, res) => json(res, 503, { status: 'starting' });
    const result = await runHttpCheck(check({ url: `${base}/health` }), vars);
    expect(result.status).toBe('failed');
    expect(result.output).toContain(`GET ${base}/health: status 503, expected 200`);
  });

  it('fails when the body does not match', async () => {
    handler = (_q, res) => json(res, 200, { status: 'degraded' });
    const result = await runHttpCheck(check({ url: `${base}/health`, expect: { bodyMatches: '"status":"ok"' } }), vars);
    expect(result.status).toBe('failed');
    expect(result.output).toContain('the body does not match /"status":"ok"/');
  });

  it('fails when the server does not answer within the timeout', async () => {
    hits.length = 0;
    handler = () => undefined; // never answers
    const result = await runHttpCheck(check({ url: `${base}/slow`, timeout: '300ms' }), vars);
    expect(result.status).toBe('failed');
    expect(result.output).toContain(`GET ${base}/slow: timed out after 300 ms`);
    expect(hits).toHaveLength(1);
  });

  it('retries, and passes when a retry passes', async () => {
    hits.length = 0;
    handler = (_q, res, n) => (n < 3 ? json(res, 502, {}) : json(res, 200, { status: 'ok' }));
    const result = await runHttpCheck(check({ url: `${base}/health`, retries: 3 }), vars);
    expect(result).toEqual({ status: 'passed', output: `GET ${base}/health: status 200` });
    expect(hits).toHaveLength(3);
  });

  it('fails once its retries are spent', async () => {
    hits.length = 0;
    handler = (_q, res) => json(res, 500, {});
    const result = await runHttpCheck(check({ url: `${base}/health`, retries: 2 }), vars);
    expect(result.status).toBe('failed');
    expect(hits).toHaveLength(3);
  });

  it('an unreachable target fails; it never passes', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const result = await runHttpCheck(check({ url: `http://127.0.0.1:${port}/health?token=s3cret`, retries: 1 }), vars);
    expect(result.status).toBe('failed');
    expect(result.output).toContain(`GET http://127.0.0.1:${port}/health: `);
    expect(result.output).toContain('ECONNREFUSED');
    expect(result.output).not.toContain('s3cret');
  });

  it('counts measurements against the failure limit', async () => {
    hits.length = 0;
    handler = (_q, res, n) => json(res, n === 2 ? 500 : 200, {});
    const result = await runHttpCheck(check({ url: `${base}/health`, count: 3, failureLimit: 1 }), vars);
    expect(result.status).toBe('passed');
    expect(result.output).toMatch(/^2 of 3 measurements passed \(1 failed/);
    expect(hits).toHaveLength(3);
  });

  it('the configuration refuses an unknown placeholder and a shell-looking job command as a string', () => {
    const bad = checkSchema.safeParse({ kind: 'http', name: 'x', url: 'http://svc/{build}' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('unknown placeholder {build}');
    const shell = checkSchema.safeParse({ kind: 'job', name: 'x', image: 'busybox', command: 'curl http://svc | sh' });
    expect(shell.success).toBe(false);
  });
});
