/**
 * The local command endpoint: `conveyor run` hands its command to a running `serve` on the
 * same state (PGlite allows one process), authenticated by a token kept under .conveyor/.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { CommandService } from '../core/command-service.js';
import { InputError } from '../core/errors.js';
import { bearerToken, type HttpServer, readJson, sendJson } from './http-server.js';

export interface ServeInfo {
  pid: number;
  port: number;
  token: string;
}

const runBody = z.object({
  text: z.string().max(4000),
  user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  idempotencyKey: z.string().max(200).optional(),
});

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function writeServeInfo(file: string, port: number): ServeInfo {
  const info = { pid: process.pid, port, token: randomBytes(24).toString('base64url') };
  writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
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
    const parsed = runBody.safeParse(await readJson(req));
    if (!parsed.success) throw new InputError(`invalid request: ${parsed.error.issues[0]?.message}`);
    const reply = await service.execute({ ...parsed.data, source: 'cli' });
    sendJson(res, 200, reply);
  });
}
