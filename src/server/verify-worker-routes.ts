/**
 * The verification workers' API (`conveyor verify-worker`, src/verify/worker.ts):
 * POST /api/verify/claim (the next `command` check assigned to the calling worker, 204 when
 * none) and POST /api/verify/reports (its result). A worker authenticates with its own bearer
 * token from VERIFY_WORKER_TOKENS ("name=token,…"), which speaks only for that name; serve's
 * local token speaks for any. Every refusal is one line with a 4xx and changes nothing.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Secrets } from '../config/secrets.js';
import { InputError, NotAllowedError } from '../core/errors.js';
import type { Runtime } from '../core/runtime.js';
import { claimNext, recordReport } from '../verify/command-task.js';
import { workerName } from '../verify/schema.js';
import { bearerToken, type HttpServer, readJsonWith, sendJson } from './http-server.js';
import { safeEqual } from './local-api.js';

const MAX_BODY = 32 * 1024;

const claimBody = z.object({ worker: workerName }).strict();

const reportBody = z
  .object({
    task: z.string().min(1).max(120),
    attempt: z.number().int().min(1).max(10_000),
    status: z.enum(['passed', 'failed', 'inconclusive']),
    output: z.string().max(1000),
    exitCode: z.number().int().min(-255).max(255).nullable(),
    durationMs: z.number().int().nonnegative(),
    outputTail: z.string().max(8000),
  })
  .strict();

/** VERIFY_WORKER_TOKENS ("name=token,…") → token → worker name. */
export function parseWorkerTokens(value: string | undefined): Map<string, string> {
  const byToken = new Map<string, string>();
  for (const pair of (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0 || !workerName.safeParse(pair.slice(0, at)).success || at === pair.length - 1)
      throw new InputError('VERIFY_WORKER_TOKENS must look like "smoke-runner=<token>,db-checks=<token>"');
    byToken.set(pair.slice(at + 1), pair.slice(0, at));
  }
  return byToken;
}

export function addVerifyWorkerRoutes(
  http: HttpServer,
  runtime: Pick<Runtime, 'store' | 'clock'>,
  secrets: Pick<Secrets, 'VERIFY_WORKER_TOKENS'>,
  localToken: () => string,
): void {
  const tokens = parseWorkerTokens(secrets.VERIFY_WORKER_TOKENS);
  /** The worker a request speaks for: '*' for serve's local token, else the token's name. */
  const principal = (req: IncomingMessage): string | null => {
    const given = bearerToken(req);
    if (!given) return null;
    if (localToken() && safeEqual(given, localToken())) return '*';
    for (const [token, name] of tokens) if (safeEqual(given, token)) return name;
    return null;
  };

  http.add('POST', '/api/verify/claim', async (req, res) => {
    const who = principal(req);
    if (!who) return sendJson(res, 401, { error: 'a verification worker token is required' });
    const { worker } = await readJsonWith(req, claimBody, 'claim', MAX_BODY);
    if (who !== '*' && who !== worker) throw new NotAllowedError(`this token belongs to worker ${who}, not ${worker}`);
    const task = await claimNext(runtime, worker);
    if (!task) {
      res.writeHead(204);
      res.end();
      return;
    }
    sendJson(res, 200, { task });
  });

  http.add('POST', '/api/verify/reports', async (req, res) => {
    const who = principal(req);
    if (!who) return sendJson(res, 401, { error: 'a verification worker token is required' });
    const report = await readJsonWith(req, reportBody, 'report', MAX_BODY);
    const done = await recordReport(runtime, who, report);
    sendJson(res, done.already ? 200 : 201, { recorded: true, ...done });
  });
}
