/**
 * The local command endpoint: `conveyor run` hands its command to a running `serve` on the
 * same state (PGlite allows one process), authenticated by a token kept under .conveyor/.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { CommandService } from '../core/command-service.js';
import { KEY_REUSED } from '../core/dispatcher.js';
import { bearerToken, type HttpServer, readJsonWith, sendJson } from './http-server.js';

export interface ServeInfo {
  pid: number;
  port: number;
  token: string;
}

export const runBody = z.object({
  text: z.string().max(4000),
  user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  idempotencyKey: z.string().min(1).max(200).optional(),
});

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function writeServeInfo(file: string, port: number): ServeInfo {
  const info = { pid: process.pid, port, token: randomBytes(24).toString('base64url') };
  // 0600 whatever the umask, also when an earlier file (perhaps with wider modes) is replaced.
  rmSync(file, { force: true });
  writeFileSync(file, JSON.stringify(info), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return info;
}

export function removeServeInfo(file: string): void {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ServeInfo;
    if (info.pid === process.pid) rmSync(file, { force: true });
  } catch {
    /* already gone */
  }
}

/** The running serve described by the file, if its process is alive. */
export function readServeInfo(file: string): ServeInfo | null {
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ServeInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}

export function addLocalApi(server: HttpServer, service: CommandService, token: () => string): void {
  server.add('POST', '/api/run', async (req, res) => {
    const given = bearerToken(req);
    if (!given || !safeEqual(given, token())) return sendJson(res, 401, { error: 'a valid local token is required' });
    const body = await readJsonWith(req, runBody, 'request', 64 * 1024);
    const reply = await service.execute({ ...body, source: 'cli' });
    // The same idempotency key with another command: refused, never the first command's answer.
    const reused = (reply.data as { code?: string } | undefined)?.code === KEY_REUSED;
    sendJson(res, reused ? 409 : 200, reply);
  });
}
