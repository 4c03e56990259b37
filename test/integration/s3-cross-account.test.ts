/**
 * The journal bucket in another account (seed 000: the Appcore account): uploads carry an
 * SHA-256 checksum and the configured server-side encryption, and the client signs with the
 * temporary credentials of an assumed role, refreshed before they expire.
 *
 * s3rver stores what it is sent and accepts the SSE and checksum headers, but neither encrypts
 * nor verifies a checksum: a recording proxy in front of it shows what the client sent (what
 * S3 would check). STS is a small local endpoint speaking the AssumeRole query API.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigError } from '../../src/core/errors.js';

interface S3rverLike {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverLike;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** Forwards to `port` unchanged (SigV4 still verifies) and records each request's headers. */
async function recordingProxy(port: number): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    const out = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** STS's AssumeRole (query API, XML answer): hands out S3RVER keys with a new session token each call. */
class StsFake {
  readonly calls: { params: URLSearchParams; authorization: string }[] = [];
  /** How long the credentials it hands out live. */
  lifetimeMs = 3_600_000;
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const params = new URLSearchParams(body);
      this.calls.push({ params, authorization: String(req.headers.authorization ?? '') });
      if (params.get('Action') !== 'AssumeRole') {
        res
          .writeHead(400, { 'content-type': 'text/xml' })
          .end('<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>');
        return;
      }
      const n = this.calls.length;
      const expiration = new Date(Date.now() + this.lifetimeMs).toISOString();
      res
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLEID:${params.get('RoleSessionName')}</AssumedRoleId>
      <Arn>arn:aws:sts::444444444444:assumed-role/conveyor-journal-writer/${params.get('RoleSessionName')}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>S3RVER</AccessKeyId>
      <SecretAccessKey>S3RVER</SecretAccessKey>
      <SessionToken>session-token-${n}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-${n}</RequestId></ResponseMetadata>
</AssumeRoleResponse>`);
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const s3rverKeys = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const master = { accessKeyId: 'AKIAMODELLINGCLUSTER', secretAccessKey: 'master-secret-not-for-s3' };

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('journal bucket in another account', () => {
  let dir: string;
  let server: S3rverLike;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  const sts = new StsFake();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 's3-cross-account-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'appcore-journals' }],
    });
    const { port } = await server.run();
    proxy = await recordingProxy(port);
    await sts.start();
  });
  afterAll(async () => {
    await sts.close();
    await proxy?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.seen.length = 0;
    sts.calls.length = 0;
    sts.lifetimeMs = 3_600_000;
  });

  it('sends the sha256 the uploader computed as the checksum S3 verifies, and asks for SSE-KMS with the key', async () => {
    const store = new S3ObjectStore(
      createS3Client({
        endpoint: proxy.url,
        region: 'eu-central-1',
        forcePathStyle: true,
        credentials: s3rverKeys,
        maxAttempts: 1,
      }),
      {
        bucket: 'appcore-journals',
        sse: 'aws:kms',
        kmsKeyId: 'alias/conveyor-journals',
      },
    );
    const body = Buffer.from('mandator,tech-head\nrate,1.25\n');
    const digest = sha256(body);
    await store.put('journals/dev-modelling/v1/rates.dat', Readable.from(body), {
      metadata: { sha256: digest.toString('hex') },
      size: body.length,
    });

    const put = proxy.seen.find((r) => r.method === 'PUT');
    expect(put?.headers['x-amz-checksum-sha256']).toBe(digest.toString('base64'));
    expect(put?.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(put?.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe('alias/conveyor-journals');
    // s3rver accepted the headers and kept the bytes
    expect(await bytes(await store.get('journals/dev-modelling/v1/rates.dat'))).toEqual(body);
  });

  it('a multipart upload asks for SHA-256 checksums and SSE-S3, and every part carries its own checksum', async () => {
    const store = new S3ObjectStore(
      createS3Client({
        endpoint: proxy.url,
        region: 'eu-central-1',
        forcePathStyle: true,
        credentials: s3rverKeys,
        maxAttempts: 1,
      }),
      {
        bucket: 'appcore-journals',
        sse: 'AES256',
      },
    );
    const body = randomBytes(17 * 1024 * 1024);
    await store.put(
      'journals/dev-modelling/v2/big.dat',
      Readable.from([body.subarray(0, 5_000_000), body.subarray(5_000_000)]),
      {
        metadata: { sha256: sha256(body).toString('hex') },
        size: body.length,
      },
    );
    const create = proxy.seen.find((r) => r.method === 'POST' && r.url.includes('uploads'));
    expect(create?.headers['x-amz-checksum-algorithm']).toBe('SHA256');
    expect(create?.headers['x-amz-server-side-encryption']).toBe('AES256');
    const parts = proxy.seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    expect(parts).toHaveLength(3);
    const PART = 8 * 1024 * 1024;
    parts.sort((a, b) => Number(/partNumber=(\d+)/.exec(a.url)![1]) - Number(/partNumber=(\d+)/.exec(b.url)![1]));
    parts.forEach((p, i) => {
      expect(p.headers['x-amz-checksum-sha256']).toBe(
        sha256(body.subarray(i * PART, (i + 1) * PART)).toString('base64'),
      );
    });
    expect((await bytes(await store.get('journals/dev-modelling/v2/big.dat'))).equals(body)).toBe(true);
  });

  it("signs S3 requests with the assumed role's temporary keys, got from STS with the cluster's own keys", async () => {
    const client = createS3Client({
      endpoint: proxy.url,
      region: 'eu-central-1',
      forcePathStyle: true,
      credentials: master,
      maxAttempts: 1,
      assumeRole: {
        roleArn: 'arn:aws:iam::444444444444:role/conveyor-journal-writer-dev-modelling',
        externalId: 'conveyor-dev-modelling',
        sessionName: 'journal-watch-dev-modelling',
        stsEndpoint: sts.url,
      },
    });
    const store = new S3ObjectStore(client, { bucket: 'appcore-journals' });
    await store.put('journals/dev-modelling/v3/a.dat', Readable.from(Buffer.from('a')), { metadata: {}, size: 1 });
    expect(await store.head('journals/dev-modelling/v3/a.dat')).toMatchObject({ size: 1 });

    // one AssumeRole, signed with the cluster's own key, naming the role, the external id and the session
    expect(sts.calls).toHaveLength(1);
    const [call] = sts.calls;
    expect(call!.authorization).toContain('Credential=AKIAMODELLINGCLUSTER/');
    expect(call!.params.get('RoleArn')).toBe('arn:aws:iam::444444444444:role/conveyor-journal-writer-dev-modelling');
    expect(call!.params.get('ExternalId')).toBe('conveyor-dev-modelling');
    expect(call!.params.get('RoleSessionName')).toBe('journal-watch-dev-modelling');
    // every S3 request: the temporary key and its session token, never the cluster's own key
    expect(proxy.seen.length).toBeGreaterThanOrEqual(2);
    for (const r of proxy.seen) {
      expect(r.headers.authorization).toContain('Credential=S3RVER/');
      expect(r.headers['x-amz-security-token']).toBe('session-token-1');
    }
  });

  it('asks STS again when the credentials are about to expire, and signs with the new session', async () => {
    sts.lifetimeMs = 120_000; // inside the SDK's refresh window (5 minutes before expiry)
    const store = new S3ObjectStore(
      createS3Client({
        endpoint: proxy.url,
        region: 'eu-central-1',
        forcePathStyle: true,
        credentials: master,
        maxAttempts: 1,
        assumeRole: {
          roleArn: 'arn:aws:iam::444444444444:role/conveyor-journal-writer-dev-modelling',
          stsEndpoint: sts.url,
        },
      }),
      { bucket: 'appcore-journals' },
    );
    await store.head('journals/none-1');
    const first = proxy.seen[0]!.headers['x-amz-security-token'];
    await store.head('journals/none-2');
    const second = proxy.seen[1]!.headers['x-amz-security-token'];
    // each request signed with a session STS handed out, the second with a newer one
    const handedOut = sts.calls.map((_c, i) => `session-token-${i + 1}`);
    expect(handedOut).toContain(first);
    expect(handedOut).toContain(second);
    expect(handedOut.indexOf(String(second))).toBeGreaterThan(handedOut.indexOf(String(first)));
    // without a session name one is made from the host: conveyor-<host>
    expect(sts.calls[0]!.params.get('RoleSessionName')).toMatch(/^conveyor-[\w+=,.@-]+$/);
  });

  it('check-config takes assumeRole and SSE settings and refuses a KMS key without aws:kms', () => {
    const base = (objects: string) =>
      `environments: [{ name: dev, branch: develop }]\njournal:\n  objects: ${objects}\n`;
    const ok = parseConfig(
      base(
        `{ bucket: appcore-journals, assumeRole: { roleArn: "arn:aws:iam::444444444444:role/writer", externalId: x-1 }, sse: "aws:kms", kmsKeyId: alias/j }`,
      ),
    );
    expect(ok.journal?.objects).toMatchObject({
      assumeRole: { roleArn: 'arn:aws:iam::444444444444:role/writer' },
      sse: 'aws:kms',
    });
    const problems = (objects: string): string => {
      try {
        parseConfig(base(objects));
        return 'accepted';
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
    };
    expect(problems('{ bucket: appcore-journals, sse: AES256, kmsKeyId: alias/j }')).toMatch(
      /journal\.objects\.kmsKeyId.*kmsKeyId needs sse: aws:kms/,
    );
    expect(problems('{ bucket: appcore-journals, assumeRole: { roleArn: "writer" } }')).toMatch(
      /journal\.objects\.assumeRole\.roleArn.*an IAM role ARN/,
    );
    expect(problems('{ bucket: appcore-journals, sse: aws:kms2 }')).toMatch(/^journal\.objects/);
  });
});
