/**
 * The command endpoint `POST /api/run`: `conveyor run` hands its command to a running `serve`
 * on the same state (PGlite allows one process), and any HTTP client may call it.
 * The caller is the owner of the personal API token it presents (`Authorization: Bearer cvy_…`,
 * created in Slack with `token create`). The local serve token (kept 0600 under .conveyor/) with
 * a body `user` is accepted only in the sandbox, whose users are demo identities.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { CommandService } from '../core/command-service.js';
import { KEY_REUSED } from '../core/dispatcher.js';
import { unknownDemoUser } from '../sandbox/demo-users.js';
import type { TokenStore } from '../store/token-store.js';
import { bearerToken, type HttpServer, readJsonWith, sendJson } from './http-server.js';

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

/** With a personal token the caller is its owner: a body `user` may only repeat it. */
export const tokenRunBody = runBody.extend({ user: runBody.shape.user.optional() });

const HOW = 'create a personal token in Slack with `/conveyor token create` and send it as Authorization: Bearer cvy_…';
export const LOCAL_API_ERRORS = {
  missing: `a personal API token is required: ${HOW}`,
  invalid: `the token is not valid: ${HOW}`,
  serveTokenOutsideSandbox: `the local serve token acts for others only in the sandbox: ${HOW}`,
  otherUser: 'a personal token acts only as its owner: leave out "user" (or give the owner)',
} as const;

export interface LocalApiAuth {
  /** Conveyor runs its embedded sandbox: the local serve token may name any (demo) user. */
  sandbox: boolean;
  /** In the sandbox, the demo users the serve token may name (others: 400); unset: any. */
  demoUsers?: readonly string[];
  tokens: TokenStore;
}

export function addLocalApi(
  server: HttpServer,
  service: CommandService,
  serveToken: () => string,
  auth: LocalApiAuth,
): void {
  server.add('POST', '/api/run', async (req, res) => {
    const given = bearerToken(req);
    if (!given) return sendJson(res, 401, { error: LOCAL_API_ERRORS.missing });
    let user: string;
    let body: z.output<typeof tokenRunBody>;
    if (given.startsWith('cvy_')) {
      const owner = await auth.tokens.verify(given);
      // Unknown, revoked or wrong: one answer, nothing about which part was wrong.
      if (!owner) return sendJson(res, 401, { error: LOCAL_API_ERRORS.invalid });
      body = await readJsonWith(req, tokenRunBody, 'request', 64 * 1024);
      if (body.user !== undefined && body.user !== owner.owner)
        return sendJson(res, 403, { error: LOCAL_API_ERRORS.otherUser });
      user = owner.owner;
    } else if (safeEqual(given, serveToken())) {
      if (!auth.sandbox) return sendJson(res, 401, { error: LOCAL_API_ERRORS.serveTokenOutsideSandbox });
      body = await readJsonWith(req, runBody, 'request', 64 * 1024);
      const unknown = auth.demoUsers ? unknownDemoUser(body.user!, auth.demoUsers) : null;
      if (unknown) return sendJson(res, 400, { error: unknown });
      user = body.user!;
    } else {
      return sendJson(res, 401, { error: LOCAL_API_ERRORS.invalid });
    }
    const reply = await service.execute({ text: body.text, user, idempotencyKey: body.idempotencyKey, source: 'http' });
    // The same idempotency key with another command: refused, never the first command's answer.
    const reused = (reply.data as { code?: string } | undefined)?.code === KEY_REUSED;
    sendJson(res, reused ? 409 : 200, reply);
  });
}
