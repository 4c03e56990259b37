/**
 * The journal HTTP API served by `serve`: the version endpoint (GET for anyone, POST only for
 * clusters allowed to write), import reports from agents, and — when no Consul is configured —
 * the embedded key-value store in Consul's HTTP shape, so agents use one Consul adapter.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Secrets } from '../config/secrets.js';
import { ConflictError, InputError, NotAllowedError, NotFoundError } from '../core/errors.js';
import { TICKET } from '../core/patterns.js';
import type { Runtime } from '../core/runtime.js';
import { journalChain } from '../journal/chain.js';
import { checkJournalIntake, objectDisagreement, SHA256_HEX } from '../journal/intake-rules.js';
import { parseVersion, VERSION_ID } from '../journal/version-id.js';
import { formatJournalNotice } from '../journal/watch-notices.js';
import type { EmbeddedKv } from '../store/embedded-kv.js';
import { bearerToken, type HttpServer, parseWith, readBody, readJsonWith, sendJson } from './http-server.js';
import { safeEqual } from './local-api.js';

/** JSON bodies of the journal API are small: 64 KiB is generous. */
const JOURNAL_MAX_BODY = 64 * 1024;

export const registerBody = z.object({
  version: z.string().regex(VERSION_ID),
  cluster: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/),
  file: z.string().max(300),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(SHA256_HEX),
  ticket: z.string().regex(TICKET).optional(),
  mandators: z.array(z.enum(['tech-head', 'business-head'])).max(2),
  objectKey: z.string().max(512),
  uploadedAt: z.iso.datetime({ offset: true }),
  /** When the modelling cluster exported it; older watchers do not send it. */
  exportedAt: z.iso.datetime({ offset: true }).optional(),
});

export const eventBody = z.object({
  cluster: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/),
  kind: z.enum(['uploaded', 'waiting', 'rejected', 'failed']),
  file: z.string().max(300),
  version: z.string().regex(VERSION_ID).optional(),
  reason: z.string().max(1000).optional(),
  /** What to do about it, as the watcher says (e.g. the `journal register` command). */
  todo: z.string().max(1000).optional(),
});

export const importBody = z.object({
  env: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  version: z.union([z.string().regex(VERSION_ID), z.literal('(invalid)')]),
  ok: z.boolean(),
  exitCode: z.number().int().nullable(),
  durationMs: z.number().int().nonnegative(),
  outputTail: z.string().max(8192),
  error: z.string().max(2000).optional(),
});

/** Tokens from JOURNAL_TOKENS ("name=token,…"): who a bearer token speaks for. */
export function parseJournalTokens(value: string | undefined): Map<string, string> {
  const byToken = new Map<string, string>();
  for (const pair of (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InputError('JOURNAL_TOKENS must look like "dev-modelling=<token>,qa=<token>"');
    byToken.set(pair.slice(at + 1), pair.slice(0, at));
  }
  return byToken;
}

export function addJournalRoutes(http: HttpServer, runtime: Runtime, secrets: Secrets, localToken: () => string): void {
  const tokens = parseJournalTokens(secrets.JOURNAL_TOKENS);
  const prefix =
    runtime.config.journal?.objects && 'prefix' in runtime.config.journal.objects
      ? runtime.config.journal.objects.prefix
      : 'journals';
  const chain = journalChain(runtime);

  /** The principal a request speaks for: '*' for the local serve token, else the token's name. */
  const principal = (req: IncomingMessage, header?: string): string | null => {
    const given = header ?? bearerToken(req);
    if (!given) return null;
    if (localToken() && safeEqual(given, localToken())) return '*';
    for (const [token, name] of tokens) if (safeEqual(given, token)) return name;
    return null;
  };

  http.add('GET', '/api/journal/versions', async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const cluster = url.searchParams.get('cluster') ?? undefined;
    const day = url.searchParams.get('day') ?? undefined;
    if (cluster && !/^[a-z][a-z0-9-]{0,62}$/.test(cluster)) throw new InputError('cluster: not a cluster name');
    if (day && !/^\d{4}\.\d{2}\.\d{2}$/.test(day)) throw new InputError('day: expected yyyy.mm.dd');
    sendJson(res, 200, { versions: await runtime.journal.list({ cluster, day, limit: 500 }) });
  });

  http.add('GET', '/api/journal/versions/latest', async (req, res) => {
    const cluster = new URL(req.url ?? '/', 'http://x').searchParams.get('cluster') ?? undefined;
    if (cluster && !/^[a-z][a-z0-9-]{0,62}$/.test(cluster)) throw new InputError('cluster: not a cluster name');
    const [latest] = await runtime.journal.list({ cluster, limit: 1 });
    if (!latest) throw new NotFoundError('no journal version yet');
    sendJson(res, 200, latest);
  });

  http.add('GET', /^\/api\/journal\/versions\/(?<id>[^/]+)$/, async (_req, res, params) => {
    if (!VERSION_ID.test(params.id ?? '')) throw new InputError('not a journal version id');
    const v = await runtime.journal.get(params.id!);
    if (!v) throw new NotFoundError(`no journal version ${params.id}`);
    sendJson(res, 200, v);
  });

  http.add('POST', '/api/journal/versions', async (req, res) => {
    const who = principal(req);
    if (!who) return sendJson(res, 401, { error: 'a cluster token is required' });
    const v = await readJsonWith(req, registerBody, 'version', JOURNAL_MAX_BODY);
    const clusters = runtime.config.journal?.clusters ?? [];
    const rule = clusters.find((c) => c.name === v.cluster);
    if (who !== '*' && who !== v.cluster) throw new NotAllowedError(`this token belongs to ${who}, not ${v.cluster}`);
    if (!rule?.writable) throw new NotAllowedError(`cluster ${v.cluster} may not write journal versions`);
    // The same rules journal-watch applied before uploading and reconciliation applies: name,
    // size, ticket, mandators within this cluster's scope.
    checkJournalIntake(v, clusters);
    if (parseVersion(v.version).cluster !== v.cluster) throw new InputError('the version id names another cluster');
    if (v.objectKey !== `${prefix}/${v.cluster}/${v.version}/${v.file}`) {
      throw new InputError(`objectKey must be ${prefix}/${v.cluster}/${v.version}/<file>`);
    }
    // Registration vouches for bytes: the object must be there, as uploaded, with this checksum.
    const problem = objectDisagreement(v, await runtime.objects.head(v.objectKey));
    if (problem) throw new ConflictError(`version ${v.version} not registered: ${problem}`);
    // Who uploaded is who registered: the cluster this call authenticated as (serve's own token: `local`).
    const { version, created } = await runtime.journal.register({
      ...v,
      ticket: v.ticket ?? null,
      exportedAt: v.exportedAt ? new Date(v.exportedAt).toISOString() : null,
      uploadedBy: who === '*' ? 'local' : who,
    });
    await runtime.store.audit(v.cluster, created ? 'journal.registered' : 'journal.register-repeated', null, {
      version: version.version,
    });
    await chain.onRegistered(version, created);
    sendJson(res, created ? 201 : 200, { version: version.version, created });
  });

  http.add('POST', '/api/journal/imports', async (req, res) => {
    const who = principal(req);
    if (!who) return sendJson(res, 401, { error: 'an agent token is required' });
    const parsed = { data: await readJsonWith(req, importBody, 'report', JOURNAL_MAX_BODY) };
    if (who !== '*' && who !== parsed.data.env)
      throw new NotAllowedError(`this token belongs to ${who}, not ${parsed.data.env}`);
    runtime.metrics.journalImports.inc({ env: parsed.data.env, result: parsed.data.ok ? 'ok' : 'failed' });
    await chain.onImport({ ...parsed.data, error: parsed.data.error ?? null });
    sendJson(res, 202, { recorded: true });
  });

  http.add('POST', '/api/journal/events', async (req, res) => {
    const who = principal(req);
    if (!who) return sendJson(res, 401, { error: 'a cluster token is required' });
    const e = await readJsonWith(req, eventBody, 'event', JOURNAL_MAX_BODY);
    if (who !== '*' && who !== e.cluster) throw new NotAllowedError(`this token belongs to ${who}, not ${e.cluster}`);
    runtime.metrics.journalUploads.inc({ cluster: e.cluster, result: e.kind });
    await runtime.store.audit(e.cluster, `journal.export.${e.kind}`, null, {
      file: e.file,
      version: e.version,
      reason: e.reason,
      todo: e.todo,
    });
    await chain.announce(formatJournalNotice(e.cluster, e));
    sendJson(res, 202, { recorded: true });
  });

  if (!runtime.config.consul) addEmbeddedKvRoutes(http, runtime, principal);
}

/** A pointer value: a journal version id, or empty (bounded by the body limit already). */
const kvValue = z.union([z.literal(''), z.string().regex(VERSION_ID)]);

/** Consul's KV HTTP shape over the embedded store: GET (blocking with index/wait) and PUT (cas). */
function addEmbeddedKvRoutes(
  http: HttpServer,
  runtime: Runtime,
  principal: (req: IncomingMessage, header?: string) => string | null,
): void {
  const kv = runtime.kv as EmbeddedKv;
  const keyPrefix = runtime.config.journal?.keyPrefix ?? 'journal_version/';
  const pattern = /^\/v1\/kv\/(?<key>[A-Za-z0-9_.%/-]{1,512})$/;
  // Agents only read their pointer; pointers move through the chain and its gates, so over HTTP
  // only the local serve token (same machine, same operator) may write.
  const checkKey = (req: IncomingMessage, raw: string, write = false) => {
    let key: string;
    try {
      key = decodeURIComponent(raw);
    } catch {
      throw Object.assign(new Error('bad key'), { status: 400 });
    }
    const token = req.headers['x-consul-token'];
    const who = principal(req, typeof token === 'string' ? token : undefined);
    if (!who || (write && who !== '*')) throw Object.assign(new Error('Permission denied'), { status: 403 });
    if (!/^[A-Za-z0-9_./-]{1,256}$/.test(key) || !key.startsWith(keyPrefix) || key.includes('..')) {
      throw Object.assign(new Error('Permission denied'), { status: 403 });
    }
    return key;
  };
  http.add('GET', pattern, async (req, res, params) => {
    const key = checkKey(req, params.key!);
    const url = new URL(req.url ?? '/', 'http://x');
    const index = Number(url.searchParams.get('index') ?? 0) || 0;
    const waitMatch = /^(\d+)(ms|s|m)$/.exec(url.searchParams.get('wait') ?? '');
    const waitMs = waitMatch
      ? Math.min(Number(waitMatch[1]) * { ms: 1, s: 1000, m: 60_000 }[waitMatch[2] as 'ms' | 's' | 'm'], 600_000)
      : 300_000;
    const ac = new AbortController();
    req.on('close', () => ac.abort());
    const result =
      index > 0
        ? await kv.watch(key, index, { waitMs, signal: ac.signal }).catch(() => null)
        : { entry: await kv.get(key), index: await kv.index() };
    if (!result || res.destroyed) return;
    const headers = { 'x-consul-index': String(Math.max(result.index, 1)) };
    if (!result.entry) return sendJson(res, 404, [], headers);
    const e = result.entry;
    sendJson(
      res,
      200,
      [
        {
          Key: e.key,
          Value: Buffer.from(e.value).toString('base64'),
          ModifyIndex: e.modifyIndex,
          CreateIndex: e.modifyIndex,
          LockIndex: 0,
          Flags: 0,
        },
      ],
      headers,
    );
  });
  http.add('PUT', pattern, async (req, res, params) => {
    const key = checkKey(req, params.key!, true);
    const url = new URL(req.url ?? '/', 'http://x');
    const casParam = url.searchParams.get('cas');
    if (casParam !== null && !/^\d{1,15}$/.test(casParam)) throw new InputError('cas must be a non-negative integer');
    const value = parseWith(
      kvValue,
      (await readBody(req, 4096)).toString('utf8'),
      'pointer value (a journal version id)',
    );
    const ok = await kv.put(key, value, casParam === null ? {} : { cas: Number(casParam) });
    sendJson(res, 200, ok);
  });
}
