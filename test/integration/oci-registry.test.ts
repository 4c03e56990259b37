/**
 * The OCI Distribution client against the real distribution server (Debian's docker-registry),
 * images pushed with skopeo from an OCI layout written by the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciRegistry } from '../../src/adapters/oci-registry.js';
import { UpstreamError } from '../../src/core/errors.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { type WrittenImage, writeOciLayout } from '../support/oci-layout.js';
import {
  type RunningRegistry,
  registryMissing,
  startRegistry,
  TOKEN_PASSWORD,
  TOKEN_USER,
} from '../support/registry.js';

const missing = registryMissing();
if (missing) console.log(`skipping the registry tests: ${missing}`);

const REVISION = '3f1c2a9d0b7e6f5a4c3b2a1908f7e6d5c4b3a291';
const SOURCE = 'https://github.com/acme/web';

let layout: string;
let images: WrittenImage[];

beforeAll(() => {
  layout = mkdtempSync(join(tmpdir(), 'conveyor-layout-'));
  images = writeOciLayout(
    layout,
    ['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc.1', 'latest'].map((tag, i) => ({
      tag,
      created: `2026-11-0${i + 1}T10:00:00Z`,
      labels: {
        'org.opencontainers.image.revision': `${REVISION.slice(0, 39)}${i}`,
        'org.opencontainers.image.source': SOURCE,
      },
    })),
  );
});
afterAll(() => rmSync(layout, { recursive: true, force: true }));

function digestOf(tag: string): string {
  const found = images.find((i) => i.tag === tag);
  if (!found) throw new Error(`no image ${tag}`);
  return found.digest;
}

describe.skipIf(missing)('OCI registry client, anonymous registry with a paging front', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ paginate: 2 });
    for (const tag of ['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc.1', 'latest']) await registry.push(layout, tag, 'team/web');
  }, 60_000);
  afterAll(async () => registry?.stop());

  it('lists every tag across Link-paginated pages', async () => {
    const client = new OciRegistry({ baseUrl: registry.url, pageSize: 2 });
    const listed = await client.listTags('team/web');
    expect(listed.changed).toBe(true);
    expect([...listed.tags].sort()).toEqual(['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc.1', 'latest']);
    const pages = registry.frontRequests.filter((r) => r.line.startsWith('GET /v2/team/web/tags/list'));
    expect(pages.map((p) => p.line)).toEqual([
      'GET /v2/team/web/tags/list?n=2',
      'GET /v2/team/web/tags/list?n=2&last=1.1.0',
      'GET /v2/team/web/tags/list?n=2&last=2.0.0-rc.1',
    ]);
  });

  it('resolves a tag to the digest skopeo pushed, and a missing tag to null', async () => {
    const client = new OciRegistry({ baseUrl: registry.url });
    const head = await client.headManifest('team/web', '1.1.0');
    expect(head).toEqual({ digest: digestOf('1.1.0'), mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    expect(await client.headManifest('team/web', 'no-such-tag')).toBeNull();
    // By digest, too.
    expect((await client.headManifest('team/web', digestOf('1.0.0')))?.digest).toBe(digestOf('1.0.0'));
  });

  it('asks again with If-None-Match and answers the 304 from what it knew', async () => {
    const client = new OciRegistry({ baseUrl: registry.url });
    const first = await client.headManifest('team/web', '1.2.0');
    const before = registry.frontRequests.length;
    const second = await client.headManifest('team/web', '1.2.0');
    expect(second).toEqual(first);
    const again = registry.frontRequests.slice(before);
    expect(again).toEqual([{ line: 'HEAD /v2/team/web/manifests/1.2.0', ifNoneMatch: `"${digestOf('1.2.0')}"` }]);
  });

  it("reads the revision, source and creation time from the image's config", async () => {
    const client = new OciRegistry({ baseUrl: registry.url });
    const found = await client.provenance('team/web', '1.2.0');
    expect(found).toMatchObject({
      revision: `${REVISION.slice(0, 39)}2`,
      source: SOURCE,
      created: '2026-11-03T10:00:00Z',
    });
    expect(await client.provenance('team/web', 'no-such-tag')).toBeNull();
  });

  it('names the repository when it does not exist', async () => {
    const client = new OciRegistry({ baseUrl: registry.url, retries: 0 });
    await expect(client.listTags('team/nothing-here')).rejects.toThrow(/team\/nothing-here: no such repository/);
  });
});

describe.skipIf(missing)('OCI registry client, backoff', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    await registry.push(layout, '1.0.0', 'team/web');
    const [host, port] = registry.host.split(':');
    proxy = await FaultProxy.start({ host: host ?? '127.0.0.1', port: Number(port) });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
  });

  it('retries 5xx answers and then succeeds', async () => {
    const client = new OciRegistry({ baseUrl: proxy.url, retries: 4, minRetryMs: 5, maxRetryMs: 20 });
    proxy.fail500(2);
    expect((await client.listTags('team/web')).tags).toEqual(['1.0.0']);
    expect(proxy.counters.failed500).toBe(2);
  });

  it('gives up after its retries with one line naming the registry', async () => {
    const client = new OciRegistry({ baseUrl: proxy.url, retries: 2, minRetryMs: 5, maxRetryMs: 20 });
    proxy.fail500(10);
    const err = await client.headManifest('team/web', '1.0.0').catch((e: unknown) => e);
    proxy.pass();
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe(`${proxy.url.slice(7)}/team/web: registry answered HTTP 500 (unavailable)`);
  });
});

describe.skipIf(missing)('OCI registry client, token authentication', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ tokenAuth: true });
    await registry.push(layout, '1.0.0', 'team/api');
    await registry.push(layout, '1.1.0', 'team/api');
  }, 60_000);
  afterAll(async () => registry?.stop());

  it('follows the WWW-Authenticate Bearer challenge with basic credentials, and reuses the token', async () => {
    const client = new OciRegistry({
      baseUrl: registry.url,
      credentials: { username: TOKEN_USER, password: TOKEN_PASSWORD },
    });
    const before = registry.tokenRequests.length;
    expect([...(await client.listTags('team/api')).tags].sort()).toEqual(['1.0.0', '1.1.0']);
    expect((await client.headManifest('team/api', '1.1.0'))?.digest).toBe(digestOf('1.1.0'));
    expect((await client.provenance('team/api', '1.0.0'))?.source).toBe(SOURCE);
    const asked = registry.tokenRequests.slice(before);
    expect(asked).toEqual([{ scope: 'repository:team/api:pull', authorized: true }]);
  });

  it('refuses with one line and no secret when the credentials are wrong or missing', async () => {
    const wrong = new OciRegistry({
      baseUrl: registry.url,
      credentials: { username: TOKEN_USER, password: 'not-the-password' },
      retries: 0,
    });
    const err = await wrong.listTags('team/api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe(
      `${registry.host}/team/api: the token service answered HTTP 401 (credentials refused)`,
    );
    expect(JSON.stringify(err)).not.toContain('not-the-password');

    const anonymous = new OciRegistry({ baseUrl: registry.url, retries: 0 });
    await expect(anonymous.headManifest('team/api', '1.0.0')).rejects.toThrow(/token service answered HTTP 401/);
  });
});
