/**
 * The journal HTTP API of `serve`, over real HTTP: who may register versions (JOURNAL_TOKENS,
 * one token per cluster or environment), what a registration must look like, idempotency by
 * checksum, the read endpoints, import reports, and the embedded KV's Consul-shaped endpoint.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { versionDay } from '../../src/journal/version-id.js';
import {
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  startJournalServer,
} from '../support/journal-setup.js';

const TOKENS = {
  dev: 'tok-dev-modelling-1234',
  prod: 'tok-prod-modelling-5678',
  qaExec: 'tok-qa-execution-9012',
  qa: 'tok-env-qa-3456',
};
const JOURNAL_TOKENS = `dev-modelling=${TOKENS.dev},prod-modelling=${TOKENS.prod},qa-execution=${TOKENS.qaExec},qa=${TOKENS.qa}`;
const day = versionDay(new Date());
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A valid registration of `cluster`'s version `seq`. */
function body(cluster: string, seq: number, content: string, extra: Record<string, unknown> = {}) {
  const version = `${day}-${cluster}.${seq}`;
  return {
    version,
    cluster,
    file: 'orders.jnl',
    size: content.length,
    sha256: sha(content),
    ticket: 'CHG0001234',
    mandators: ['tech-head'],
    objectKey: `journals/${cluster}/${version}/orders.jnl`,
    uploadedAt: new Date().toISOString(),
    ...extra,
  };
}

let ws: JournalWorkspace;
let srv: JournalServer;

/** A registration whose object was really uploaded (as journal-watch does) with `content`. */
async function uploaded(cluster: string, seq: number, content: string, extra: Record<string, unknown> = {}) {
  const b = body(cluster, seq, content, extra);
  await srv.server.runtime.objects.put(b.objectKey, Readable.from([Buffer.from(content)]), {
    metadata: {
      version: b.version,
      cluster,
      sha256: sha(content),
      mandators: (b.mandators as string[]).join(','),
      file: b.file,
    },
  });
  return b;
}

beforeAll(async () => {
  ws = await makeJournalWorkspace();
  srv = await startJournalServer(ws, { JOURNAL_TOKENS });
});

afterAll(async () => {
  await srv?.stop();
  ws?.remove();
});

describe('POST /api/journal/versions', () => {
  it('needs a token', async () => {
    const res = await srv.api('POST', '/api/journal/versions', { token: null, body: body('dev-modelling', 1, 'a') });
    expect(res.status).toBe(401);
    expect((await srv.api('GET', '/api/journal/versions')).json.versions).toEqual([]);
  });

  it('refuses a read-only cluster and a token of another cluster', async () => {
    const readOnly = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.qaExec,
      body: body('qa-execution', 1, 'a'),
    });
    expect(readOnly.status).toBe(403);
    expect(readOnly.json.error).toContain('may not write');

    const asDev = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.qaExec,
      body: body('dev-modelling', 1, 'a'),
    });
    expect(asDev.status).toBe(403);

    const crossed = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: body('prod-modelling', 1, 'a'),
    });
    expect(crossed.status).toBe(403);
    expect(crossed.json.error).toContain('belongs to dev-modelling');

    const wrongToken = await srv.api('POST', '/api/journal/versions', {
      token: 'not-a-token',
      body: body('dev-modelling', 1, 'a'),
    });
    expect(wrongToken.status).toBe(401);
    expect((await srv.api('GET', '/api/journal/versions')).json.versions).toEqual([]);
  });

  it.each([
    [
      'an objectKey outside journals/<cluster>/<version>/',
      { objectKey: 'journals/prod-modelling/x/orders.jnl' },
      'objectKey',
    ],
    [
      'an objectKey that climbs out with ..',
      { objectKey: `journals/dev-modelling/${day}-dev-modelling.1/../../etc/passwd` },
      'objectKey',
    ],
    ['a malformed sha256', { sha256: 'abc123' }, 'sha256'],
    ['a version of another cluster', { version: `${day}-prod-modelling.1` }, 'another cluster'],
    ['a file name with folders', { file: '../orders.jnl' }, 'file'],
  ])('answers 400 with a one-line error for %s', async (_what, change, mentions) => {
    const res = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: body('dev-modelling', 1, 'a', change),
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toContain(mentions);
    expect(res.json.error).not.toContain('\n');
  });

  it('answers 400 to a body that is not JSON', async () => {
    const res = await srv.api('POST', '/api/journal/versions', { token: TOKENS.dev, body: '{not json' });
    expect(res.status).toBe(400);
  });

  it('registers a checksum once: the repeat answers 200 created:false with the first version', async () => {
    const first = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: await uploaded('dev-modelling', 1, 'content-1'),
    });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ version: `${day}-dev-modelling.1`, created: true });

    const again = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: await uploaded('dev-modelling', 1, 'content-1'),
    });
    expect(again).toMatchObject({ status: 200, json: { version: `${day}-dev-modelling.1`, created: false } });
    // Even under a new version id, the same content keeps its version.
    const renamed = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: await uploaded('dev-modelling', 2, 'content-1'),
    });
    expect(renamed).toMatchObject({ status: 200, json: { version: `${day}-dev-modelling.1`, created: false } });

    const list = (await srv.api('GET', '/api/journal/versions')).json.versions as { version: string }[];
    expect(list.map((v) => v.version)).toEqual([`${day}-dev-modelling.1`]);
  });

  it('lets the prod modelling cluster register with its own token', async () => {
    const res = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.prod,
      body: await uploaded('prod-modelling', 1, 'prod-content', { mandators: ['tech-head', 'business-head'] }),
    });
    expect(res.status).toBe(201);
  });

  it('refuses a version whose object was never uploaded, or differs from what is stated (409)', async () => {
    const madeUp = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: body('dev-modelling', 7, 'never uploaded'),
    });
    expect(madeUp.status).toBe(409);
    expect(madeUp.json.error).toContain('does not exist');
    const real = await uploaded('dev-modelling', 8, 'real bytes');
    const bigger = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: { ...real, size: real.size + 1 },
    });
    expect(bigger.status).toBe(409);
    const otherSha = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: { ...real, sha256: sha('other bytes') },
    });
    expect(otherSha.status).toBe(409);
    expect(otherSha.json.error).toContain('sha256');
    const versions = (await srv.api('GET', '/api/journal/versions')).json.versions as { version: string }[];
    expect(versions.map((v) => v.version)).not.toContain(`${day}-dev-modelling.7`);
    expect(versions.map((v) => v.version)).not.toContain(`${day}-dev-modelling.8`);
  });

  it("refuses mandators outside the cluster's scope (403): dev-modelling exports tech-head only", async () => {
    const res = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: await uploaded('dev-modelling', 9, 'business data', { mandators: ['business-head'] }),
    });
    expect(res.status).toBe(403);
    expect(res.json.error).toContain('business-head');
  });

  it.each([
    ['a space', 'my orders.jnl'],
    ['unicode', 'ordérs.jnl'],
    ['a leading dash', '-rf.jnl'],
    ['a command substitution', '$(id).jnl'],
    ['a newline', 'a\nb.jnl'],
    ['over 200 characters', `${'x'.repeat(240)}.jnl`],
  ])('refuses a file name with %s (400), as journal-watch does', async (_what, file) => {
    const b = body('dev-modelling', 10, 'named', { file });
    const res = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: { ...b, objectKey: `journals/dev-modelling/${b.version}/${file}` },
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toContain('file name');
  });

  it('refuses an empty journal (400)', async () => {
    const res = await srv.api('POST', '/api/journal/versions', {
      token: TOKENS.dev,
      body: body('dev-modelling', 11, ''),
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toContain('empty');
  });
});

describe('GET /api/journal/versions', () => {
  it('lists, filters by cluster and day, answers the latest and one by id — without a token', async () => {
    const all = await srv.api('GET', '/api/journal/versions', { token: null });
    expect(all.status).toBe(200);
    expect((all.json.versions as { version: string }[]).map((v) => v.version).sort()).toEqual([
      `${day}-dev-modelling.1`,
      `${day}-prod-modelling.1`,
    ]);

    const dev = await srv.api('GET', `/api/journal/versions?cluster=dev-modelling&day=${day}`, { token: null });
    expect((dev.json.versions as { version: string }[]).map((v) => v.version)).toEqual([`${day}-dev-modelling.1`]);

    const latest = await srv.api('GET', '/api/journal/versions/latest?cluster=prod-modelling', { token: null });
    expect(latest).toMatchObject({
      status: 200,
      json: { version: `${day}-prod-modelling.1`, cluster: 'prod-modelling' },
    });

    const one = await srv.api('GET', `/api/journal/versions/${day}-dev-modelling.1`, { token: null });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({
      version: `${day}-dev-modelling.1`,
      cluster: 'dev-modelling',
      file: 'orders.jnl',
      size: 'content-1'.length,
      sha256: sha('content-1'),
      objectKey: `journals/dev-modelling/${day}-dev-modelling.1/orders.jnl`,
      ticket: 'CHG0001234',
      mandators: ['tech-head'],
    });

    expect((await srv.api('GET', `/api/journal/versions/${day}-dev-modelling.9`)).status).toBe(404);
    expect((await srv.api('GET', '/api/journal/versions/not-a-version')).status).toBe(400);
    expect((await srv.api('GET', '/api/journal/versions?cluster=Bad_Name')).status).toBe(400);
    expect((await srv.api('GET', '/api/journal/versions/latest?cluster=nobody')).status).toBe(404);
  });
});

describe('POST /api/journal/imports', () => {
  const report = (env: string) => ({
    env,
    version: `${day}-dev-modelling.1`,
    ok: false,
    exitCode: 2,
    durationMs: 10,
    outputTail: 'boom',
    error: 'import exited with code 2',
  });

  it('takes a report only with the token of that environment', async () => {
    expect((await srv.api('POST', '/api/journal/imports', { token: null, body: report('qa') })).status).toBe(401);
    const wrong = await srv.api('POST', '/api/journal/imports', { token: TOKENS.qa, body: report('dev') });
    expect(wrong.status).toBe(403);
    expect((await srv.server.runtime.journal.imports('dev')).length).toBe(0);

    const right = await srv.api('POST', '/api/journal/imports', { token: TOKENS.qa, body: report('qa') });
    expect(right.status).toBe(202);
    expect((await srv.server.runtime.journal.imports('qa')).map((i) => i.ok)).toEqual([false]);
    expect(
      (await srv.api('POST', '/api/journal/imports', { token: TOKENS.qa, body: { ...report('qa'), ok: 'yes' } }))
        .status,
    ).toBe(400);
  });
});

describe('the embedded KV (Consul HTTP shape)', () => {
  const kv = (path: string, options: Parameters<JournalServer['api']>[2] = {}) =>
    srv.api(options.body === undefined ? 'GET' : 'PUT', `/v1/kv/${path}`, options);

  it('answers keys under journal_version/ to a known token, as Consul does', async () => {
    const seeded = (await srv.server.runtime.kv.get('journal_version/dev'))?.value;
    expect(seeded).toBe(`${day}-dev-modelling.1`); // the first dev version seeded the chain
    const res = await srv.api('GET', '/v1/kv/journal_version/dev', {
      token: null,
      headers: { 'x-consul-token': TOKENS.qa },
    });
    expect(res.status).toBe(200);
    expect(Buffer.from(res.json[0].Value, 'base64').toString()).toBe(seeded);
    expect(Number(res.json[0].ModifyIndex)).toBeGreaterThan(0);
    expect((await kv('journal_version/nothing-here')).status).toBe(404);
  });

  it('refuses requests without a (valid) token', async () => {
    expect((await kv('journal_version/dev', { token: null })).status).toBe(403);
    expect((await kv('journal_version/dev', { token: 'nope' })).status).toBe(403);
    expect((await kv('journal_version/dev', { token: null, body: 'x' })).status).toBe(403);
  });

  it('refuses keys outside journal_version/', async () => {
    expect((await kv('secrets/db-password')).status).toBe(403);
    expect((await kv('journal_version%2F..%2Fsecrets')).status).toBe(403);
    expect((await kv('journal_versionX')).status).toBe(403);
    expect((await kv('other/key', { body: 'x' })).status).toBe(403);
    expect(await srv.server.runtime.kv.get('other/key')).toBeNull();
  });

  it('does not let a cluster or agent token move a pointer past the chain and its gates', async () => {
    const before = (await srv.server.runtime.kv.get('journal_version/dit'))?.value ?? null;
    for (const token of [TOKENS.dev, TOKENS.qa, TOKENS.qaExec]) {
      const res = await kv('journal_version/dit', { token, body: `${day}-dev-modelling.1` });
      expect(res.status).toBe(403);
    }
    expect((await srv.server.runtime.kv.get('journal_version/dit'))?.value ?? null).toBe(before);
  });
});
