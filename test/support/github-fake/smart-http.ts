/**
 * Git smart HTTP for the GitHub fake: `git http-backend` behind GitHub's push authentication,
 * run by the fake's git helper process (git-process.ts) with the request's body as its input.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GIT_ENV } from './git-plumbing.js';
import { runGit } from './git-process.js';

/** Git smart HTTP through `git http-backend` (CGI). */
export async function serveGit(
  root: string,
  token: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const basic = /^basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const [user, pass] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
  const pushing = url.pathname.endsWith('/git-receive-pack') || url.searchParams.get('service') === 'git-receive-pack';
  if (pushing && pass !== token) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"', 'content-type': 'text/plain' });
    res.end('Invalid username or token.');
    return;
  }
  const env: NodeJS.ProcessEnv = {
    ...GIT_ENV,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
    REMOTE_ADDR: '127.0.0.1',
    ...(pass === token ? { REMOTE_USER: user || 'git' } : {}),
  };
  const body: Buffer[] = [];
  for await (const chunk of req) body.push(chunk as Buffer);
  // From the fake's git helper process, as GitHub's own work: not forked from the test's process.
  const raw = (await runGit(['http-backend'], { env, input: Buffer.concat(body) })).stdout;
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const sep = raw.indexOf('\r\n\r\n') >= 0 ? 4 : 2;
  const headers: Record<string, string> = {};
  let status = 200;
  for (const line of raw.subarray(0, Math.max(end, 0)).toString().split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (key === 'status') status = Number.parseInt(value, 10);
    else headers[key] = value;
  }
  res.writeHead(status, headers);
  res.end(end < 0 ? raw : raw.subarray(end + sep));
}
