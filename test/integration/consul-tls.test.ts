/**
 * Consul as production runs it: HTTPS with a private CA, a client certificate (verify_incoming),
 * the server's name, an ACL token, a datacenter, a partition and a namespace. A TLS endpoint
 * made by the test (openssl: a CA, a server and a client certificate) that requires a client
 * certificate stands in front of the Consul HTTP fake and records what reached it.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsulKv } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { ConsulFake } from '../support/consul-fake.js';

const TOKEN = 'consul-acl-token-for-conveyor';

function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Test Consul CA',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:consul.service.test\n');
  for (const [name, cn] of [
    ['server', 'consul.service.test'],
    ['client', 'conveyor'],
  ] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      ...(name === 'server' ? ['-extfile', 'server.ext'] : []),
    );
  }
}

describe('Consul over TLS with ACL, datacenter, partition and namespace', () => {
  let dir: string;
  let fake: ConsulFake;
  let front: Server;
  let port: number;
  const seen: {
    token?: string;
    namespace?: string;
    dc?: string | null;
    partition?: string | null;
    clientCn?: string;
  }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-consul-tls-'));
    makeCertificates(dir);
    fake = await ConsulFake.start({ tokens: { [TOKEN]: {} } });
    front = createServer(
      {
        key: readFileSync(join(dir, 'server.key')),
        cert: readFileSync(join(dir, 'server.pem')),
        ca: readFileSync(join(dir, 'ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const url = new URL(req.url ?? '/', 'https://x');
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({
          token: req.headers['x-consul-token'] as string | undefined,
          namespace: req.headers['x-consul-namespace'] as string | undefined,
          dc: url.searchParams.get('dc'),
          partition: url.searchParams.get('partition'),
          clientCn: peer?.subject?.CN as string | undefined,
        });
        const upstream = httpRequest(
          { host: '127.0.0.1', port: fake.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        req.pipe(upstream);
      },
    );
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    port = (front.address() as AddressInfo).port;
  });
  afterAll(async () => {
    front?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (tls: Record<string, string>) => ({
    host: '127.0.0.1',
    port,
    secure: true,
    datacenter: 'dc-eu',
    partition: 'banking',
    namespace: 'journals',
    tls,
  });

  it('reads and writes with the client certificate, the token, the datacenter, the partition and the namespace', async () => {
    const kv = await buildConsulKv(
      settings({ caFile: 'ca.pem', certFile: 'client.pem', keyFile: 'client.key', serverName: 'consul.service.test' }),
      TOKEN,
      dir,
    );
    expect(await kv.put('journal_version/qa', '2026.11.25-dev-modelling.1', { cas: 0 })).toBe(true);
    expect((await kv.get('journal_version/qa'))?.value).toBe('2026.11.25-dev-modelling.1');
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const s of seen)
      expect(s).toEqual({
        token: TOKEN,
        namespace: 'journals',
        dc: 'dc-eu',
        partition: 'banking',
        clientCn: 'conveyor',
      });
  });

  it('fails without the client certificate, with the wrong server name, or with the wrong token, and writes nothing', async () => {
    const before = fake.requests.length;
    const noCert = await buildConsulKv(settings({ caFile: 'ca.pem', serverName: 'consul.service.test' }), TOKEN, dir);
    await expect(noCert.get('journal_version/qa')).rejects.toThrow();
    const wrongName = await buildConsulKv(
      settings({ caFile: 'ca.pem', certFile: 'client.pem', keyFile: 'client.key', serverName: 'other.test' }),
      TOKEN,
      dir,
    );
    await expect(wrongName.get('journal_version/qa')).rejects.toThrow();
    const wrongToken = await buildConsulKv(
      settings({ caFile: 'ca.pem', certFile: 'client.pem', keyFile: 'client.key', serverName: 'consul.service.test' }),
      'nope',
      dir,
    );
    await expect(wrongToken.put('journal_version/qa', 'x', { cas: 0 })).rejects.toThrow();
    expect(fake.requests.slice(before).filter((r) => r.method === 'PUT')).toHaveLength(1); // only the refused token reached it
    expect(
      (
        await (
          await buildConsulKv(
            settings({
              caFile: 'ca.pem',
              certFile: 'client.pem',
              keyFile: 'client.key',
              serverName: 'consul.service.test',
            }),
            TOKEN,
            dir,
          )
        ).get('journal_version/qa')
      )?.value,
    ).toBe('2026.11.25-dev-modelling.1');
  });

  it('a missing certificate file is one clear line', async () => {
    await expect(buildConsulKv(settings({ caFile: 'nope.pem' }), TOKEN, dir)).rejects.toThrow(
      new ConfigError('consul.tls.caFile: cannot read nope.pem (ENOENT)'),
    );
  });

  it('check-config refuses TLS settings without secure, and a certificate without its key', () => {
    const base = 'environments: [{ name: development, branch: develop }]\n';
    const problems = (consul: string) => {
      try {
        parseConfig(`${base}consul: ${consul}\n`);
        return '';
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
    };
    expect(problems('{ host: consul, tls: { caFile: ca.pem } }')).toMatch(/consul\.tls needs secure: true/);
    expect(problems('{ host: consul, secure: true, tls: { certFile: c.pem } }')).toMatch(
      /certFile and keyFile go together/,
    );
    expect(problems('{ host: consul, secure: true, datacenter: "eu west" }')).toMatch(/datacenter/);
    expect(
      problems(
        '{ host: consul, secure: true, datacenter: dc-eu, namespace: journals, partition: banking, tls: { caFile: ca.pem, certFile: c.pem, keyFile: c.key, serverName: consul.service } }',
      ),
    ).toBe('');
  });
});
