/**
 * The read-only web board, mounted on serve's HTTP server: `/` (the environment matrix),
 * `/ops/<id>`, `/history`, `/audit`, `/journals`, `/events` (live refresh), the OpenID Connect
 * login (`/login`, the callback of `board.oidc.redirectUrl`, `/logout`), the audit export
 * `GET /api/audit` and the API description `GET /api/openapi.json`.
 *
 * Who may look: in the sandbox everyone (the board is open); with `board.oidc` people who signed
 * in and whom `board.users` maps to a Slack user, each seeing what their roles allow
 * (./access.ts); otherwise the board is off (its pages say how to turn it on).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Secrets } from '../../config/secrets.js';
import { isConveyorError } from '../../core/errors.js';
import type { ApiTokens } from '../../core/ports.js';
import { SANDBOX_VIEWER, type Viewer, Visibility, viewerFor } from '../../core/visibility.js';
import type { Db } from '../../store/db.js';
import { bearerToken, type HttpServer } from '../http-server.js';
import { safeEqual } from '../local-api.js';
import { queryAudit } from './audit-query.js';
import { BOARD_CSP, html, page, type SafeHtml } from './html.js';
import { ChangeFeed } from './live.js';
import { OidcLogin } from './oidc.js';
import { openApiDocument } from './openapi.js';
import {
  auditPage,
  auditQuery,
  type BoardData,
  filterVisible,
  historyPage,
  journalsPage,
  matrixPage,
  operationPage,
  type PageResult,
} from './pages.js';
import {
  CookieSealer,
  clearCookie,
  cookieHeader,
  LOGIN_COOKIE,
  needsSecure,
  readCookie,
  SESSION_COOKIE,
} from './session.js';

export interface BoardOptions {
  /** The state database (the board's read-only audit and change queries). */
  db: Db;
  secrets: Secrets;
  /** serve's local token: in the sandbox it may read the audit export for everyone. */
  serveToken: () => string;
  sandbox: boolean;
  log: Logger;
  /** How often the live feed looks for changes. */
  liveEveryMs?: number;
}

export interface Board {
  /** End the live streams (serve is stopping). */
  close(): void;
}

type Runtime = BoardData['runtime'] & { tokens: ApiTokens };

const LOGIN_TTL_MS = 10 * 60_000;
const EXPORT_PAGE = 500;
const EXPORT_MAX = 100_000;
const EXPORT_PARAMS = ['since', 'action', 'actor', 'operation', 'limit'];

function sendHtml(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'content-security-policy': BOARD_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function redirect(res: ServerResponse, location: string, cookies: string[] = []): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...(cookies.length ? { 'set-cookie': cookies } : {}) });
  res.end();
}

/** A path on this board to come back to after login (never another site). */
function safeReturn(value: string | null | undefined): string {
  return value && /^\/(?![/\\])[\x21-\x7e]{0,500}$/.test(value) ? value : '/';
}

export function addBoard(http: HttpServer, runtime: Runtime, options: BoardOptions): Board {
  const { config } = runtime;
  const oidcConfig = config.board?.oidc;
  const mode: 'open' | 'oidc' | 'off' = oidcConfig ? 'oidc' : options.sandbox ? 'open' : 'off';
  const sealer = new CookieSealer(options.secrets.BOARD_SESSION_SECRET);
  const oidc = oidcConfig ? new OidcLogin(oidcConfig, options.secrets.BOARD_OIDC_CLIENT_SECRET) : null;
  const secure = oidcConfig ? needsSecure(oidcConfig.redirectUrl) : false;
  const ttlMs = config.board?.sessionTtl ?? 8 * 3_600_000;
  const data: BoardData = { runtime, db: options.db };
  const feed = new ChangeFeed(options.db, options.liveEveryMs ?? 1_000, (err) =>
    options.log.warn({ err: (err as Error).message }, 'board: reading changes failed'),
  );
  if (mode === 'oidc' && !options.secrets.BOARD_SESSION_SECRET)
    options.log.warn('board: no BOARD_SESSION_SECRET: sessions end when serve restarts and are not shared by replicas');
  if (mode === 'oidc' && !options.secrets.BOARD_OIDC_CLIENT_SECRET)
    options.log.info('board: no BOARD_OIDC_CLIENT_SECRET: logging in as a public client (PKCE only)');

  /**
   * Sessions ended by "Sign out" before their expiry (sid → expiry): a copy of the cookie is
   * refused too. Kept by this process only (README: with several replicas, logout ends the
   * session on the replica that answered; the cookie is gone from the browser either way).
   */
  const signedOut = new Map<string, number>();
  const forget = () => {
    const now = Date.now();
    for (const [sid, exp] of signedOut) if (exp <= now) signedOut.delete(sid);
  };

  /** The signed-in person, still mapped and still holding the roles config gives them now. */
  const viewerOf = (req: IncomingMessage): Viewer | null => {
    if (mode === 'open') return SANDBOX_VIEWER;
    if (mode !== 'oidc') return null;
    const session = sealer.unseal(SESSION_COOKIE, readCookie(req, SESSION_COOKIE), Date.now());
    if (!session || typeof session.claim !== 'string' || typeof session.user !== 'string') return null;
    if (typeof session.sid !== 'string' || signedOut.has(session.sid)) return null;
    if (config.board?.users[session.claim] !== session.user) return null;
    return viewerFor(config, session.user, `${session.claim} (${session.user})`);
  };

  const errorPage = (res: ServerResponse, status: number, title: string, message: string | SafeHtml) =>
    sendHtml(res, status, page({ title, current: null }, html`<h1>${title}</h1><p>${message}</p>`));

  const offPage = (res: ServerResponse) =>
    errorPage(
      res,
      404,
      'The web board is off',
      'Outside the sandbox the board needs a login: set board.oidc in the configuration (see the README, "Web board").',
    );

  /** A board page: the viewer or a redirect to login, then the page or an error page. */
  const boardPage =
    (
      current: 'matrix' | 'history' | 'audit' | 'journals' | undefined,
      build: (vis: Visibility, url: URL, params: Record<string, string>) => Promise<PageResult>,
    ) =>
    async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      if (mode === 'off') return offPage(res);
      const url = new URL(req.url ?? '/', 'http://board');
      const viewer = viewerOf(req);
      if (!viewer) return redirect(res, `/login?return=${encodeURIComponent(url.pathname + url.search)}`);
      try {
        const result = await build(new Visibility(config, viewer), url, params);
        sendHtml(
          res,
          200,
          page({ title: result.title, current, viewer: mode === 'oidc' ? viewer : null, live: true }, result.body),
        );
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (isConveyorError(err) || (typeof status === 'number' && status < 500)) {
          const code = isConveyorError(err)
            ? ({ NOT_FOUND: 404, INPUT: 400, NOT_ALLOWED: 403 }[err.code as string] ?? 502)
            : status!;
          return errorPage(res, code, code === 404 ? 'Not found' : 'Cannot show this', (err as Error).message);
        }
        throw err;
      }
    };

  const param = (url: URL, name: string) => url.searchParams.get(name)?.slice(0, 200) || undefined;

  http.add(
    'GET',
    '/',
    boardPage('matrix', (vis) => matrixPage(data, vis)),
  );
  http.add(
    'GET',
    /^\/ops\/(?<id>[^/]{1,100})$/,
    boardPage(undefined, (vis, _url, params) => operationPage(data, vis, params.id ?? '')),
  );
  http.add(
    'GET',
    '/history',
    boardPage('history', (vis, url) =>
      historyPage(data, vis, {
        app: param(url, 'app'),
        env: param(url, 'env'),
        state: param(url, 'state'),
        kind: param(url, 'kind'),
      }),
    ),
  );
  http.add(
    'GET',
    '/audit',
    boardPage('audit', (vis, url) =>
      auditPage(data, vis, {
        since: param(url, 'since'),
        action: param(url, 'action'),
        actor: param(url, 'actor'),
        operation: param(url, 'operation'),
      }),
    ),
  );
  http.add(
    'GET',
    '/journals',
    boardPage('journals', (vis) => journalsPage(data, vis)),
  );

  http.add('GET', '/events', async (req, res) => {
    if (mode === 'off') return offPage(res);
    if (!viewerOf(req)) return errorPage(res, 401, 'Sign in first', 'The live feed needs a signed-in session.');
    if (!(await feed.watch(req, res))) errorPage(res, 503, 'Too many watchers', 'Reload the page later.');
  });

  // ------------------------------------------------------------ login

  http.add('GET', '/login', async (req, res) => {
    if (mode === 'open') return redirect(res, '/');
    if (mode === 'off' || !oidc) return offPage(res);
    const url = new URL(req.url ?? '/', 'http://board');
    let start: Awaited<ReturnType<OidcLogin['start']>>;
    try {
      start = await oidc.start(safeReturn(url.searchParams.get('return')));
    } catch (err) {
      options.log.warn({ err: (err as Error).message }, 'board: the OpenID provider could not be reached');
      return errorPage(
        res,
        502,
        'Cannot sign in now',
        'The identity provider could not be reached. Try again shortly.',
      );
    }
    const sealed = sealer.seal(LOGIN_COOKIE, start.pending, Date.now() + LOGIN_TTL_MS);
    redirect(res, start.url, [cookieHeader(LOGIN_COOKIE, sealed, { secure, maxAgeSec: LOGIN_TTL_MS / 1000 })]);
  });

  if (oidcConfig && oidc) {
    const callbackPath = new URL(oidcConfig.redirectUrl).pathname;
    http.add('GET', callbackPath, async (req, res) => {
      const pending = sealer.unseal(LOGIN_COOKIE, readCookie(req, LOGIN_COOKIE), Date.now());
      const clear = clearCookie(LOGIN_COOKIE, secure);
      if (
        !pending ||
        typeof pending.verifier !== 'string' ||
        typeof pending.state !== 'string' ||
        typeof pending.nonce !== 'string'
      ) {
        return sendHtml(
          res,
          400,
          page(
            { title: 'Sign in again', current: null },
            html`<h1>Sign in again</h1><p>This login took too long or was not started here. <a href="/login">Sign in</a>.</p>`,
          ),
          { 'set-cookie': clear },
        );
      }
      let claim: string;
      try {
        claim = await oidc.finish(new URL(req.url ?? '/', oidcConfig.redirectUrl), {
          verifier: pending.verifier,
          state: pending.state,
          nonce: pending.nonce,
          returnTo: safeReturn(String(pending.returnTo ?? '/')),
        });
      } catch (err) {
        options.log.warn({ err: (err as Error).message }, 'board: a login was refused');
        return sendHtml(
          res,
          401,
          page(
            { title: 'Login refused', current: null },
            html`<h1>Login refused</h1><p>The identity provider's answer could not be accepted. <a href="/login">Try again</a>.</p>`,
          ),
          { 'set-cookie': clear },
        );
      }
      const user = config.board?.users[claim];
      if (!user) {
        options.log.info({ claim: oidcConfig.claim }, 'board: a person not mapped to a Slack user signed in; refused');
        return sendHtml(
          res,
          403,
          page(
            { title: 'Not known to Conveyor', current: null },
            html`<h1>Not known to Conveyor</h1><p>${claim} is not listed under board.users, so Conveyor cannot tell which roles you hold. Ask the people who run Conveyor to add you.</p>`,
          ),
          { 'set-cookie': clear },
        );
      }
      const session = sealer.seal(
        SESSION_COOKIE,
        { claim, user, sid: randomBytes(16).toString('base64url') },
        Date.now() + ttlMs,
      );
      options.log.info({ user }, 'board: signed in');
      redirect(res, safeReturn(String(pending.returnTo ?? '/')), [
        clear,
        cookieHeader(SESSION_COOKIE, session, { secure, maxAgeSec: ttlMs / 1000 }),
      ]);
    });
  }

  http.add('POST', '/logout', (req, res) => {
    req.resume();
    const session = sealer.unseal(SESSION_COOKIE, readCookie(req, SESSION_COOKIE), Date.now());
    if (session && typeof session.sid === 'string' && typeof session.exp === 'number') {
      forget();
      if (signedOut.size < 100_000) signedOut.set(session.sid, session.exp);
      options.log.info({ user: session.user }, 'board: signed out');
    }
    redirect(res, '/signed-out', [clearCookie(SESSION_COOKIE, secure)]);
  });
  // A typed or bookmarked /logout: signing out changes state, so it is a button posting to /logout.
  http.add('GET', '/logout', (req, res) => {
    if (mode === 'off') return offPage(res);
    const viewer = mode === 'oidc' ? viewerOf(req) : null;
    const body =
      mode === 'open'
        ? html`<h1>Nothing to sign out of</h1><p>The sandbox board is open: nobody signs in. <a href="/">Back to the board</a></p>`
        : viewer
          ? html`<h1>Sign out</h1><p>Signed in as ${viewer.label}.</p><form method="post" action="/logout"><button type="submit">Sign out</button></form><p><a href="/">Back to the board</a></p>`
          : html`<h1>Not signed in</h1><p>There is no session here to end. <a href="/login">Sign in</a></p>`;
    sendHtml(res, 200, page({ title: 'Sign out', current: null }, body));
  });
  http.add('GET', '/signed-out', (_req, res) =>
    sendHtml(
      res,
      200,
      page({ title: 'Signed out', current: null }, html`<h1>Signed out</h1><p><a href="/login">Sign in again</a></p>`),
      { 'set-cookie': clearCookie(SESSION_COOKIE, secure) },
    ),
  );

  // ------------------------------------------------------------ audit export

  http.add('GET', '/api/audit', async (req, res) => {
    const given = bearerToken(req);
    const json = (status: number, error: string) => {
      const body = JSON.stringify({ error });
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    let viewer: Viewer | null = null;
    if (given?.startsWith('cvy_')) {
      const token = await runtime.tokens.verify(given);
      if (token) viewer = viewerFor(config, token.owner);
    } else if (given && options.sandbox && safeEqual(given, options.serveToken())) {
      viewer = SANDBOX_VIEWER;
    }
    if (!given)
      return json(
        401,
        'a personal API token is required: create one in Slack with `/conveyor token create` and send it as Authorization: Bearer cvy_…',
      );
    if (!viewer) return json(401, 'the token is not valid');
    const url = new URL(req.url ?? '/', 'http://board');
    // Strict: every parameter known, given once and not empty (a typo is a refusal, not "everything").
    for (const name of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(name);
      if (!EXPORT_PARAMS.includes(name))
        return json(400, `${name.slice(0, 40)}: not a parameter of the export (${EXPORT_PARAMS.join(', ')})`);
      if (values.length > 1) return json(400, `${name}: given ${values.length} times; give it once`);
      if (values[0] === '') return json(400, `${name}: empty; leave it out or give a value`);
    }
    const limitText = url.searchParams.get('limit');
    if (
      limitText !== null &&
      !(/^\d{1,6}$/.test(limitText) && Number(limitText) >= 1 && Number(limitText) <= EXPORT_MAX)
    )
      return json(400, `limit: a whole number from 1 to ${EXPORT_MAX}`);
    const limit = limitText === null ? EXPORT_MAX : Number(limitText);
    const q = auditQuery(
      {
        since: url.searchParams.get('since') ?? undefined,
        action: url.searchParams.get('action') ?? undefined,
        actor: url.searchParams.get('actor') ?? undefined,
        operation: url.searchParams.get('operation') ?? undefined,
      },
      runtime.clock.now(),
    );
    const vis = new Visibility(config, viewer);
    // The status goes out with the first page: a query that fails answers 500, never an empty 200.
    const head = () => {
      if (!res.headersSent)
        res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
    };
    let afterId = 0;
    let sent = 0;
    while (sent < limit && !res.destroyed) {
      const page = await queryPage(q, afterId);
      head();
      if (!page.raw) break;
      afterId = page.lastId;
      const lines = page.rows.slice(0, limit - sent);
      if (lines.length) res.write(`${lines.map((e) => JSON.stringify(e)).join('\n')}\n`);
      sent += lines.length;
      if (page.raw < EXPORT_PAGE) break;
    }
    head();
    res.end();

    async function queryPage(query: ReturnType<typeof auditQuery>, after: number) {
      // Paged by the unfiltered ids, so lines the viewer may not see do not end the export early.
      const all = await queryAudit(options.db, { ...query, afterId: after, order: 'asc', limit: EXPORT_PAGE });
      return { rows: await filterVisible(data, vis, all), raw: all.length, lastId: all.at(-1)?.id ?? after };
    }
  });

  http.add('GET', '/api/openapi.json', (_req, res) => {
    const body = JSON.stringify(openApiDocument());
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });

  return { close: () => feed.close() };
}
