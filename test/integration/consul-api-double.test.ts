/**
 * The Consul KV stand-ins checked against HashiCorp's own API double
 * (`@hashicorp/consul-api-double`, `v1/kv`: the response templates Consul's UI is tested with).
 * Both stand-ins are checked: the test fake (test/support/consul-fake.ts) and serve's embedded
 * KV in Consul's HTTP shape (src/server/journal-routes.ts), which journal-agent reads in the
 * sandbox.
 *
 * The double's templates are rendered here with the helpers api-double gives them (`env`,
 * `range`, `fake`, `location`, `http`). A single-key read must have every field the double has,
 * with the same JSON type, and none it lacks — except `Session`, which the double always fills
 * but Consul sends only for a key held by a lock, and `Namespace`, sent only on Enterprise
 * (https://developer.hashicorp.com/consul/api-docs/kv#read-key). `?keys` answers a list of
 * strings; a PUT answers a JSON boolean; reads carry a numeric `X-Consul-Index`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConsulFake } from '../support/consul-fake.js';
import {
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  startJournalServer,
} from '../support/journal-setup.js';

const doubleDir = join(
  dirname(createRequire(import.meta.url).resolve('@hashicorp/consul-api-double/package.json')),
  'v1',
  'kv',
);

/** Render one api-double template the way api-double does: a template literal over its helpers. */
function renderDouble(
  file: string,
  req: { method: string; pathname: string; search?: Record<string, string> },
): string {
  const text = readFileSync(join(doubleDir, file), 'utf8');
  const helpers = {
    http: { method: req.method },
    location: { pathname: req.pathname, search: req.search ?? {} },
    env: (name: string, fallback: unknown) =>
      (({ CONSUL_KV_COUNT: 3, CONSUL_LATENCY: 0 }) as Record<string, unknown>)[name] ?? fallback,
    range: (n: number) => Array.from({ length: Number(n) }, (_v, i) => i),
    fake: {
      random: {
        number: ({ max }: { max: number }) => Math.min(1, Number(max)),
        uuid: () => '8f6ec1ef-0f5c-4cbb-8f38-6d7d1d5b6f6e',
      },
      lorem: { word: () => 'word' },
    },
  };
  const render = new Function(...Object.keys(helpers), `return \`${text}\`;`) as (...args: unknown[]) => string;
  return render(...Object.values(helpers));
}

type Shape = Record<string, string>;
const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const shapeOf = (o: Record<string, unknown>): Shape =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, jsonType(v)]));
/** Fields Consul sends only sometimes (a locked key's Session; Enterprise's Namespace and Partition). */
const SOMETIMES = new Set(['Session', 'Namespace', 'Partition']);

function expectKvShape(answer: unknown, double: Record<string, unknown>): void {
  expect(Array.isArray(answer)).toBe(true);
  const [entry] = answer as Record<string, unknown>[];
  const ours = shapeOf(entry!);
  const theirs = shapeOf(double);
  const required = Object.fromEntries(Object.entries(theirs).filter(([k]) => !SOMETIMES.has(k)));
  // every field the double always has, with the same JSON type
  expect(ours).toMatchObject(required);
  // and no field the double does not know
  expect(Object.keys(ours).filter((k) => !(k in theirs))).toEqual([]);
  for (const k of Object.keys(ours)) expect(ours[k], k).toBe(theirs[k]);
  // Value is base64, as in the double
  expect(Buffer.from(String(entry!.Value), 'base64').toString('base64')).toBe(entry!.Value);
}

describe("the Consul KV stand-ins answer in the shapes of HashiCorp's API double", () => {
  const keyPath = '/v1/kv/journal_version/dev';
  const doubleRead = JSON.parse(renderDouble('_', { method: 'GET', pathname: keyPath }))[0] as Record<string, unknown>;
  const doubleKeys = JSON.parse(
    renderDouble('_', { method: 'GET', pathname: '/v1/kv/journal_version/', search: { keys: '' } }),
  ) as unknown[];
  const doublePut = JSON.parse(renderDouble('_', { method: 'PUT', pathname: keyPath })) as unknown;
  const doubleHeaders = (
    parse(renderDouble('.config', { method: 'GET', pathname: keyPath, search: { index: '7' } })) as Record<
      string,
      Record<string, Record<string, { headers: { response: Record<string, unknown> } }>>
    >
  )['*']!.GET!['*']!.headers.response;

  it('the double itself: a read is a list of entries, ?keys a list of strings, a PUT a boolean, reads carry X-Consul-Index', () => {
    expect(Object.keys(doubleRead).sort()).toEqual([
      'CreateIndex',
      'Flags',
      'Key',
      'LockIndex',
      'ModifyIndex',
      'Session',
      'Value',
    ]);
    expect(doubleKeys.length).toBe(3);
    expect(doubleKeys.every((k) => typeof k === 'string')).toBe(true);
    expect(doublePut).toBe(true);
    expect(Number.isInteger(Number(doubleHeaders['X-Consul-Index']))).toBe(true);
  });

  describe('the test fake (test/support/consul-fake.ts)', () => {
    let consul: ConsulFake;
    beforeAll(async () => {
      consul = await ConsulFake.start();
    });
    afterAll(async () => consul?.close());
    const call = (method: string, path: string, body?: string) =>
      fetch(`http://127.0.0.1:${consul.port}${path}`, { method, body });

    it('answers reads, ?keys and PUTs (plain and cas) as the double does', async () => {
      const put = await call('PUT', keyPath, '2026.11.25-dev-modelling.1');
      expect(jsonType(await put.json())).toBe(jsonType(doublePut));
      const read = await call('GET', keyPath);
      expect(Number.isInteger(Number(read.headers.get('x-consul-index')))).toBe(true);
      expectKvShape(await read.json(), doubleRead);
      const keys = (await (await call('GET', '/v1/kv/journal_version/?keys')).json()) as unknown[];
      expect(keys.map(jsonType)).toEqual(keys.map(() => jsonType(doubleKeys[0])));
      const lostCas = await call('PUT', `${keyPath}?cas=1`, '2026.11.25-dev-modelling.2');
      expect(await lostCas.json()).toBe(false);
    });
  });

  describe("serve's embedded KV (journal-agent's Consul in the sandbox)", () => {
    let ws: JournalWorkspace;
    let srv: JournalServer;
    beforeAll(async () => {
      ws = await makeJournalWorkspace();
      srv = await startJournalServer(ws);
    }, 60_000);
    afterAll(async () => {
      await srv?.stop();
      ws?.remove();
    });
    const call = (method: string, path: string, body?: string) =>
      fetch(`${srv.baseUrl}${path}`, { method, body, headers: { 'x-consul-token': srv.token } });

    it('answers reads and PUTs (plain and cas) as the double does', async () => {
      const put = await call('PUT', keyPath, '');
      expect(jsonType(await put.json())).toBe(jsonType(doublePut));
      const read = await call('GET', keyPath);
      expect(read.status).toBe(200);
      expect(Number.isInteger(Number(read.headers.get('x-consul-index')))).toBe(true);
      expectKvShape(await read.json(), doubleRead);
      const lostCas = await call('PUT', `${keyPath}?cas=999999`, '');
      expect(await lostCas.json()).toBe(false);
    });
  });
});
