/**
 * The real CNCF distribution server (Debian's `docker-registry`) on a loopback port, started in a
 * temporary folder with filesystem storage; images are pushed to it with `skopeo copy oci:…`.
 *
 * `tokenAuth: true` puts Docker's token authentication in front: the registry's `auth.token`
 * config trusts a self-signed certificate made here (`openssl req -x509` over a key from
 * node:crypto), and a small token server on another loopback port signs RS256 JWTs with that key
 * (the certificate in the `x5c` header), after checking basic credentials.
 *
 * `paginate: n` puts a front on the registry that pages `GET /v2/<name>/tags/list` by the
 * Distribution spec (`n`, `last`, `Link: <…>; rel="next"`) — the 2.8 server lists every tag in
 * one page — and passes every other request through unchanged.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

/** Why registry tests cannot run here, or null when they can. */
export function registryMissing(): string | null {
  if (!existsSync(REGISTRY_BIN)) return 'docker-registry is not installed (apt-get install docker-registry)';
  if (!existsSync(SKOPEO_BIN)) return 'skopeo is not installed (apt-get install skopeo)';
  return null;
}

export const TOKEN_USER = 'ci-bot';
export const TOKEN_PASSWORD = 'pull-secret-value';

export interface RunningRegistry {
  /** `http://127.0.0.1:PORT`: what clients talk to (the paginating front when asked for). */
  url: string;
  /** `127.0.0.1:PORT` of the registry itself (pushes go there). */
  host: string;
  /** Token requests seen (token auth only), with whether their credentials were accepted. */
  tokenRequests: { scope: string; authorized: boolean }[];
  /** Requests seen by the paginating front, `METHOD path?query`, with their If-None-Match. */
  frontRequests: { line: string; ifNoneMatch: string | null }[];
  push(layoutDir: string, tag: string, repository: string): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startRegistry(opts: { tokenAuth?: boolean; paginate?: number } = {}): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tokenRequests: RunningRegistry['tokenRequests'] = [];
  const frontRequests: RunningRegistry['frontRequests'] = [];
  const servers: http.Server[] = [];
  let authBlock = '';

  if (opts.tokenAuth) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'key.pem'),
      '-subj',
      '/CN=conveyor-test-token',
      '-days',
      '2',
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const certDer = Buffer.from(
      readFileSync(join(dir, 'cert.pem'), 'utf8')
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    const tokenServer = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const scope = url.searchParams.get('scope') ?? '';
      const expected = `Basic ${Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64')}`;
      const authorized = req.headers.authorization === expected;
      tokenRequests.push({ scope, authorized });
      if (!authorized) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const access = scope
        .split(' ')
        .filter(Boolean)
        .map((s) => {
          const [type, name, actions] = s.split(':');
          return { type, name, actions: (actions ?? '').split(',').filter(Boolean) };
        });
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
      const claims = {
        iss: 'conveyor-test-issuer',
        sub: TOKEN_USER,
        aud: 'conveyor-test-registry',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
      const token = `${input}.${b64url(signature)}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    servers.push(tokenServer);
    const tokenPort = await listen(tokenServer);
    authBlock = [
      'auth:',
      '  token:',
      `    realm: http://127.0.0.1:${tokenPort}/token`,
      '    service: conveyor-test-registry',
      '    issuer: conveyor-test-issuer',
      `    rootcertbundle: ${join(dir, 'cert.pem')}`,
      '',
    ].join('\n');
  }

  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: ${host}`,
      `  secret: ${randomUUID()}`,
      authBlock,
    ].join('\n'),
  );
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  // Bounded wait for the port to answer.
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      up = true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!up) {
    child.kill('SIGTERM');
    throw new Error(`docker-registry did not start: ${stderr.slice(0, 500)}`);
  }

  let url = `http://${host}`;
  if (opts.paginate) {
    const pageSize = opts.paginate;
    const front = http.createServer(async (req, res) => {
      const inm = req.headers['if-none-match'];
      frontRequests.push({ line: `${req.method} ${req.url}`, ifNoneMatch: typeof inm === 'string' ? inm : null });
      const u = new URL(req.url ?? '/', `http://${host}`);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
      const upstream = await fetch(`http://${host}${u.pathname}${u.search}`, { method: req.method ?? 'GET', headers });
      const m = /^\/v2\/(.+)\/tags\/list$/.exec(u.pathname);
      if (!m || upstream.status !== 200) {
        const out: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'content-encoding') out[k] = v;
        });
        const body = Buffer.from(await upstream.arrayBuffer());
        res.writeHead(upstream.status, out);
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const all = ((await upstream.json()) as { tags: string[] | null }).tags ?? [];
      // The spec: lexical order, the page after `last`, at most `n`.
      const sorted = [...all].sort();
      const n = Math.min(Number(u.searchParams.get('n') ?? pageSize) || pageSize, pageSize);
      const last = u.searchParams.get('last');
      const rest = last ? sorted.filter((t) => t > last) : sorted;
      const page = rest.slice(0, n);
      const out: Record<string, string> = { 'content-type': 'application/json' };
      if (rest.length > n) {
        out.link = `</v2/${m[1]}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1] ?? '')}>; rel="next"`;
      }
      res.writeHead(200, out);
      res.end(JSON.stringify({ name: m[1], tags: page }));
    });
    servers.push(front);
    url = `http://127.0.0.1:${await listen(front)}`;
  }

  return {
    url,
    host,
    tokenRequests,
    frontRequests,
    async push(layoutDir, tag, repository) {
      const args = ['copy', '--quiet', `oci:${layoutDir}:${tag}`, `docker://${host}/${repository}:${tag}`];
      args.push('--dest-tls-verify=false');
      if (opts.tokenAuth) args.push('--dest-creds', `${TOKEN_USER}:${TOKEN_PASSWORD}`);
      await run(SKOPEO_BIN, args, { env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir } });
    },
    async stop() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
