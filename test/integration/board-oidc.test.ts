/**
 * The board outside the sandbox: login through a real OpenID provider (`oidc-provider` on
 * loopback, its development login and consent pages) driven in headless Chromium; each person
 * sees what their roles allow (pages, operation pages, the audit export); sign-out ends the
 * session, also for a copy of its cookie; forged, altered, expired and misused cookies are
 * refused; someone the configuration does not map gets a clear refusal.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CookieSealer, LOGIN_COOKIE, SESSION_COOKIE } from '../../src/server/board/session.js';
import type { RunningServer } from '../../src/server/serve.js';
import { startServer } from '../../src/server/serve.js';
import { chromiumMissing, freePort, launchChromium, screenshots, VIEWPORTS } from '../support/browser.js';
import { captureLog, type E2eWorkspace, makeE2eWorkspace } from '../support/slack-e2e-setup.js';

if (chromiumMissing) console.warn(`board OIDC tests skipped: ${chromiumMissing}`);

const CLIENT_ID = 'conveyor-board';
const CLIENT_SECRET = 'oidc-test-client-secret-0123456789';
const SESSION_SECRET = 'board-session-secret-0123456789-abcdef';
const PEOPLE = { 'qa@example.com': 'U_QA', 'lead@example.com': 'U_LEAD' };

let ws: E2eWorkspace;
let oidcServer: Server;
let server: RunningServer;
let browser: Browser;
let issuer = '';
let base = '';
const ops: Record<string, string> = {};
const tokens: Record<string, string> = {};

async function login(email: string, path = '/'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await context.newPage();
  await page.goto(`${base}${path}`);
  // The board sent the browser to the provider's login page.
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`));
  await page.fill('input[name="login"]', email);
  await page.fill('input[name="password"]', 'any password');
  await page.click('button[type="submit"]');
  // First login of this account: the provider asks for consent.
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`) || u.href.startsWith(base));
  if (page.url().startsWith(issuer)) await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.href.startsWith(base) && !u.pathname.startsWith('/auth/'));
  return { context, page };
}

async function sessionCookie(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies(base)).find((c) => c.name === SESSION_COOKIE)?.value;
}

/** GET a board page with exactly this cookie; where it goes. */
async function getWith(path: string, cookie: string | null) {
  const res = await fetch(`${base}${path}`, {
    redirect: 'manual',
    headers: cookie === null ? {} : { cookie: `${SESSION_COOKIE}=${cookie}` },
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

async function apiRun(token: string, text: string) {
  const res = await fetch(`${base}/api/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  return (await res.json()) as { operation?: { id: string; state: string } };
}

describe.skipIf(chromiumMissing)('board login through OpenID Connect', () => {
  beforeAll(async () => {
    const oidcPort = await freePort();
    const boardPort = await freePort();
    issuer = `http://127.0.0.1:${oidcPort}`;
    base = `http://127.0.0.1:${boardPort}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${base}/auth/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      claims: { openid: ['sub'], email: ['email', 'email_verified'] },
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({ sub: `sub-${id}`, email: id, email_verified: true }),
      }),
      cookies: { keys: ['oidc-test-cookie-key-0123456789'] },
    });
    oidcServer = createServer(provider.callback());
    await new Promise<void>((resolve) => oidcServer.listen(oidcPort, '127.0.0.1', resolve));

    ws = await makeE2eWorkspace();
    const raw = parse(readFileSync(ws.configFile, 'utf8')) as Record<string, unknown>;
    raw.board = {
      url: base,
      oidc: { issuer, clientId: CLIENT_ID, redirectUrl: `${base}/auth/callback` },
      users: PEOPLE,
    };
    writeFileSync(ws.configFile, stringify(raw));
    server = await startServer({
      cwd: ws.root,
      configFile: ws.configFile,
      port: boardPort,
      host: '127.0.0.1',
      out: () => {},
      log: captureLog().log,
      env: { BOARD_OIDC_CLIENT_SECRET: CLIENT_SECRET, BOARD_SESSION_SECRET: SESSION_SECRET },
    });
    expect(server.runtime.sandbox).toBe(false);
    for (const user of ['U_DEMO', 'U_QA', 'U_LEAD'])
      tokens[user] = (await server.runtime.tokens.create(user, 'test')).token;
    await apiRun(tokens.U_DEMO!, 'promote api qa');
    ops.staging = (await apiRun(tokens.U_DEMO!, 'promote api staging')).operation!.id;
    ops.prod = (await apiRun(tokens.U_DEMO!, 'promote api prod')).operation!.id;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await new Promise<void>((resolve) => (oidcServer ? oidcServer.close(() => resolve()) : resolve()));
    ws?.remove();
  });

  it('nothing is shown before login: pages go to the login, the live feed is refused', async () => {
    const page = await getWith('/', null);
    expect(page.status).toBe(303);
    expect(page.location).toBe('/login?return=%2F');
    expect((await getWith(`/ops/${ops.prod}`, null)).location).toBe(`/login?return=%2Fops%2F${ops.prod}`);
    expect((await getWith('/events', null)).status).toBe(401);
    const start = await fetch(`${base}/login?return=/history`, { redirect: 'manual' });
    expect(start.status).toBe(303);
    const to = new URL(start.headers.get('location')!);
    expect(to.origin).toBe(issuer);
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('redirect_uri')).toBe(`${base}/auth/callback`);
    const cookie = start.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^conveyor_login=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
  });

  it('a QA lead logs in and sees the environments their role may see, not prod', async () => {
    const { context, page } = await login('qa@example.com', '/history');
    expect(new URL(page.url()).pathname).toBe('/history');
    expect(await page.textContent('header')).toContain('qa@example.com (U_QA)');
    const cookie = (await context.cookies(base)).find((c) => c.name === SESSION_COOKIE)!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    const shown = await page.$$eval('tbody td[data-label="operation"]', (tds) => tds.map((t) => t.textContent));
    expect(shown).toContain(ops.staging);
    expect(shown).not.toContain(ops.prod);
    await page.goto(`${base}/`);
    const envs = await page.$$eval('table.matrix thead th', (ths) => ths.map((t) => t.textContent).slice(1));
    expect(envs).toEqual(['development', 'qa', 'staging']);
    const refused = await page.goto(`${base}/ops/${ops.prod}`);
    expect(refused?.status()).toBe(404);
    expect((await page.goto(`${base}/ops/${ops.staging}`))?.status()).toBe(200);
    await screenshots(page, 'operation-signed-in');
    await context.close();
  });

  it('a tech lead sees prod (and the open environments), not staging', async () => {
    const { context, page } = await login('lead@example.com');
    const envs = await page.$$eval('table.matrix thead th', (ths) => ths.map((t) => t.textContent).slice(1));
    expect(envs).toEqual(['development', 'qa', 'prod']);
    expect((await page.goto(`${base}/ops/${ops.prod}`))?.status()).toBe(200);
    expect(await page.textContent('h1')).toContain('waiting for approval');
    expect((await page.goto(`${base}/ops/${ops.staging}`))?.status()).toBe(404);
    await context.close();
  });

  it('the audit export gives each token owner the lines of their environments', async () => {
    const linesFor = async (token: string) => {
      const res = await fetch(`${base}/api/audit?since=1h`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      return (await res.text())
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { operationId: string | null });
    };
    const qa = new Set((await linesFor(tokens.U_QA!)).map((l) => l.operationId));
    const lead = new Set((await linesFor(tokens.U_LEAD!)).map((l) => l.operationId));
    expect([qa.has(ops.staging!), qa.has(ops.prod!)]).toEqual([true, false]);
    expect([lead.has(ops.staging!), lead.has(ops.prod!)]).toEqual([false, true]);
  });

  it('sign-out ends the session: the browser loses the cookie and a copy of it is refused', async () => {
    const { context, page } = await login('qa@example.com');
    const copy = (await sessionCookie(context))!;
    expect((await getWith('/', copy)).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/signed-out`);
    expect(await page.textContent('h1')).toBe('Signed out');
    expect(await sessionCookie(context)).toBeUndefined();
    const after = await getWith('/', copy);
    expect([after.status, after.location]).toEqual([303, '/login?return=%2F']);
    await context.close();
  });

  it('forged, altered, expired and misused cookies are refused', async () => {
    const { context } = await login('lead@example.com');
    const good = (await sessionCookie(context))!;
    await context.close();
    expect((await getWith('/', good)).status).toBe(200);
    const sealer = new CookieSealer(SESSION_SECRET);
    const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const bad = {
      forged: 'Zm9yZ2VkLXNlc3Npb24tY29va2llLXdpdGgtbm8ta2V5',
      'sealed with another key': new CookieSealer('another-secret-0123456789-0123456789').seal(
        SESSION_COOKIE,
        { claim: 'lead@example.com', user: 'U_LEAD', sid: 'x' },
        Date.now() + 3_600_000,
      ),
      altered: flip(good, 40),
      expired: sealer.seal(SESSION_COOKIE, { claim: 'lead@example.com', user: 'U_LEAD', sid: 'y' }, Date.now() - 1000),
      'a login cookie': sealer.seal(
        LOGIN_COOKIE,
        { claim: 'lead@example.com', user: 'U_LEAD', sid: 'z' },
        Date.now() + 60_000,
      ),
      'a user the claim does not map to': sealer.seal(
        SESSION_COOKIE,
        { claim: 'qa@example.com', user: 'U_LEAD', sid: 'w' },
        Date.now() + 60_000,
      ),
    };
    for (const [what, cookie] of Object.entries(bad)) {
      const res = await getWith(`/ops/${ops.prod}`, cookie);
      expect({ what, status: res.status, location: res.location }).toEqual({
        what,
        status: 303,
        location: `/login?return=%2Fops%2F${ops.prod}`,
      });
    }
  });

  it('someone the configuration does not map is told so and gets no session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`));
    await page.fill('input[name="login"]', 'stranger@example.com');
    await page.fill('input[name="password"]', 'x');
    await page.click('button[type="submit"]');
    await page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`) || u.href.startsWith(base));
    if (page.url().startsWith(issuer)) await page.click('button[type="submit"]');
    await page.waitForURL((u) => u.href.startsWith(`${base}/auth/callback`));
    expect(await page.textContent('h1')).toBe('Not known to Conveyor');
    expect(await sessionCookie(context)).toBeUndefined();
    await context.close();
  });
});
