/**
 * The web board in real headless Chromium, on `serve` running the sandbox (open board) with
 * `board.url` set and Slack pointed at the fake: the matrix agrees with the bare repositories
 * read by plain git; the link in an operation's Slack message opens its page; a promotion
 * updates an open page live (server-sent events, no reload); history and audit filter; the
 * journals page; keyboard, labels, contrast and phone width. Each page is saved as a screenshot
 * at desktop and phone widths under docs/screenshots/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { chromiumMissing, freePort, launchChromium, screenshots, VIEWPORTS } from '../support/browser.js';
import { captureLog, pushCommits } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

if (chromiumMissing) console.warn(`board browser tests skipped: ${chromiumMissing}`);

const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8', env: GIT_ENV }).trim();

const CHANNELS: Record<string, string> = {
  C0DEV0001: 'deploys-dev',
  C0QA00001: 'deploys-qa',
  C0STAGE01: 'deploys-staging',
  C0PROD001: 'deploys-prod',
};

let root = '';
let sandboxDir = '';
let server: RunningServer;
let fake: SlackFake;
let browser: Browser;
let page: Page;
let base = '';
let serveToken = '';

async function run(
  text: string,
  user: string,
): Promise<{ status: string; title: string; operation?: { id: string; state: string } }> {
  const res = await fetch(`${base}/api/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${serveToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text, user }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; title: string; operation?: { id: string; state: string } };
}

/** Labels, keyboard and contrast: what every board page must offer. */
async function checkAccessible(p: Page): Promise<void> {
  const problems = await p.evaluate(() => {
    const out: string[] = [];
    if (!document.documentElement.lang) out.push('no lang');
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const input = el as HTMLInputElement;
      if (input.type !== 'hidden' && !input.labels?.length) out.push(`unlabelled ${input.name}`);
    }
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3]! > 0) return c;
      }
      return [255, 255, 255];
    };
    for (const el of document.querySelectorAll('main *, header *')) {
      const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent?.trim());
      if (!text || (el as HTMLElement).offsetParent === null) continue;
      const fg = lum(rgb(getComputedStyle(el).color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5) out.push(`contrast ${ratio.toFixed(2)} on "${el.textContent?.trim().slice(0, 30)}"`);
    }
    return out;
  });
  expect(problems).toEqual([]);
  // The first Tab reaches the skip link, which leads to the content.
  await p.keyboard.press('Tab');
  expect(await p.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
  await p.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}

describe.skipIf(chromiumMissing)('the web board in Chromium (sandbox)', () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'conveyor-board-'));
    const sandbox = await ensureSandbox(root);
    sandboxDir = sandbox.dir;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, unknown>;
    raw.state = { url: 'pglite:memory' };
    raw.board = { url: base };
    // Web pages of the (plain Git) repositories: the operation page links commits, tags and the comparison.
    raw.slack = {
      gitWeb: {
        commit: 'https://git.example.com/{repo}/commit/{sha}',
        compare: 'https://git.example.com/{repo}/compare/{from}...{to}',
        tag: 'https://git.example.com/{repo}/releases/tag/{tag}',
      },
    };
    writeFileSync(sandbox.configFile, stringify(raw));
    fake = await SlackFake.start();
    for (const [id, name] of Object.entries(CHANNELS)) fake.addChannel(id, name);
    server = await startServer({
      cwd: root,
      port,
      host: '127.0.0.1',
      out: () => {},
      log: captureLog().log,
      env: { SLACK_BOT_TOKEN: fake.token, SLACK_SIGNING_SECRET: 'board-signing-secret', SLACK_API_URL: fake.apiUrl },
    });
    expect(server.runtime.sandbox).toBe(true);
    serveToken = (JSON.parse(readFileSync(join(sandboxDir, 'serve.json'), 'utf8')) as { token: string }).token;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: VIEWPORTS.desktop });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the matrix shows what the repositories say: each branch head, its deploy tag or short sha', async () => {
    await page.goto(`${base}/`);
    await expect.poll(() => page.title()).toBe('Environments · Conveyor');
    const cells = await page.$$eval('td.cell', (tds) =>
      tds.map((td) => ({
        app: td.getAttribute('data-app'),
        env: td.getAttribute('data-env'),
        sha: td.getAttribute('data-sha'),
        version: td.querySelector('.version')?.textContent?.trim(),
      })),
    );
    const config = server.runtime.config;
    expect(cells).toHaveLength(config.apps.length * config.environments.length);
    for (const app of config.apps) {
      // An image app's environments live in its GitOps repository: a version branch and deploy
      // tags per app and environment (conveyor/<app>/<env>, <app>/<env>/…).
      const image = app.strategy === 'image';
      const repo = image ? resolve(sandboxDir, app.gitops!.repo!) : join(sandboxDir, 'repos', `${app.name}.git`);
      for (const env of config.environments) {
        const head = git(repo, 'rev-parse', `refs/heads/${image ? `conveyor/${app.name}/${env.name}` : env.branch}`);
        const prefix = image ? `${app.name}/${env.name}/*` : `${env.name}/*`;
        const tags = git(repo, 'tag', '--points-at', head, '--list', prefix, '--sort=-v:refname')
          .split('\n')
          .filter(Boolean);
        const cell = cells.find((c) => c.app === app.name && c.env === env.name);
        expect(cell, `${app.name} ${env.name}`).toEqual({
          app: app.name,
          env: env.name,
          sha: head,
          version: tags[0] ?? head.slice(0, 8),
        });
      }
    }
    await checkAccessible(page);
    // On a phone the page does not scroll sideways: the matrix stacks per app.
    await page.setViewportSize(VIEWPORTS.phone);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(VIEWPORTS.phone.width);
    const cut = await page.$$eval('main td, main th', (els) =>
      els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent?.trim().slice(0, 40)),
    );
    expect(cut, 'cells wider than the phone').toEqual([]);
    await page.setViewportSize(VIEWPORTS.desktop);
    await screenshots(page, 'matrix');
  });

  it("the link in an operation's Slack message opens its page", async () => {
    // A commit whose subject looks like markup: shown as text, never as HTML.
    pushCommits(join(sandboxDir, 'repos', 'api.git'), 'develop', 1);
    const reply = await run('promote api', 'U_DEMO');
    expect(reply.operation?.state).toBe('succeeded');
    const id = reply.operation!.id;
    let url = '';
    await vi.waitFor(
      () => {
        const shown = fake.messagesIn('C0QA00001').map((m) => JSON.stringify(m.blocks));
        const m = shown
          .map((s) => /<(http:\/\/127\.0\.0\.1:\d+\/ops\/op_[0-9a-z]+)\|open on the board>/.exec(s))
          .find(Boolean);
        expect(m).toBeTruthy();
        url = m![1]!;
      },
      { timeout: 20_000 },
    );
    expect(url).toBe(`${base}/ops/${id}`);
    await page.goto(url);
    await expect.poll(() => page.textContent('h1')).toContain(id);
    const facts = await page.textContent('dl.facts');
    expect(facts).toContain('succeeded');
    const tag = git(join(sandboxDir, 'repos', 'api.git'), 'describe', '--exact-match', '--match', 'qa/*', 'qa');
    expect(facts).toContain(tag);
    const hrefs = await page.$$eval('dl.facts a', (as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
    const written = git(join(sandboxDir, 'repos', 'api.git'), 'rev-parse', 'qa');
    expect(hrefs).toContainEqual([tag, `https://git.example.com/repos/api/releases/tag/${tag}`]);
    expect(hrefs).toContainEqual([written.slice(0, 8), `https://git.example.com/repos/api/commit/${written}`]);
    expect(hrefs.some(([, h]) => h?.startsWith('https://git.example.com/repos/api/compare/'))).toBe(true);
    expect(await page.textContent('main')).toContain('Change 0001: tune <cache> & retry budget');
    expect(await page.$$eval('main cache, main script', (els) => els.length)).toBe(0);
    const timeline = await page.$$eval('ol.timeline li strong', (els) => els.map((e) => e.textContent));
    expect(timeline[0]).toBe('operation.requested');
    expect(timeline.at(-1)).toBe('operation.succeeded');
    await checkAccessible(page);
    await screenshots(page, 'operation');
  });

  it('a promotion updates the open pages live: waiting on the matrix, approved and done on its page', async () => {
    await page.goto(`${base}/`);
    await page.evaluate(() => {
      (window as unknown as { stayed: number }).stayed = 42;
    });
    // Wait until the page listens (the live status region exists; the stream is open).
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.live), { timeout: 10_000 }).toBe('on');
    const reply = await run('promote api staging', 'U_DEMO');
    expect(reply.operation?.state).toBe('awaiting-approval');
    const id = reply.operation!.id;
    const staging = page.locator('td.cell[data-app="api"][data-env="staging"]');
    await expect.poll(() => staging.textContent(), { timeout: 15_000 }).toContain(`promote ${id}`);
    expect(await page.evaluate(() => (window as unknown as { stayed?: number }).stayed)).toBe(42);
    expect(await page.textContent('#live-status')).toMatch(/^Updated /);

    // Follow the pending link with the keyboard, then watch the approval land.
    await staging.getByRole('link', { name: id }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/ops/${id}`);
    expect(await page.textContent('h1')).toContain('waiting for approval');
    await screenshots(page, 'operation-waiting');
    await page.evaluate(() => {
      (window as unknown as { stayed: number }).stayed = 43;
    });
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.live), { timeout: 10_000 }).toBe('on');
    const approved = await run(`approve ${id}`, 'U_QA');
    expect(approved.status).toBe('ok');
    await expect.poll(() => page.textContent('h1'), { timeout: 15_000 }).toContain('succeeded');
    expect(await page.evaluate(() => (window as unknown as { stayed?: number }).stayed)).toBe(43);
    expect(await page.textContent('main')).toMatch(/qa-lead\s*:\s*1\/1 — U_QA/);
  });

  it('history filters by environment; the audit log by action', async () => {
    await page.goto(`${base}/history`);
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.live), { timeout: 10_000 }).toBe('on');
    await page.selectOption('#f-env', 'staging');
    // A change arrives while the filter is being chosen: the page waits instead of replacing the form.
    expect((await run('lock web qa board test', 'U_DEMO')).status).toBe('ok');
    await expect
      .poll(() => page.evaluate(() => document.documentElement.dataset.deferred), { timeout: 15_000 })
      .toBe('yes');
    expect(await page.inputValue('#f-env')).toBe('staging');
    expect((await run('unlock web qa', 'U_DEMO')).status).toBe('ok');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/env=staging/);
    const envs = await page.$$eval('tbody td[data-label="env"]', (tds) => tds.map((t) => t.textContent));
    expect(envs.length).toBeGreaterThan(0);
    expect(new Set(envs)).toEqual(new Set(['staging']));
    await checkAccessible(page);
    await screenshots(page, 'history');

    await page.goto(`${base}/audit`);
    await page.fill('#a-action', 'approval.given');
    await page.press('#a-action', 'Enter');
    await page.waitForURL(/action=approval.given/);
    const rows = await page.$$eval('tbody tr', (trs) =>
      trs.map((tr) => [
        tr.querySelector('[data-label="actor"]')?.textContent,
        tr.querySelector('[data-label="action"]')?.textContent,
      ]),
    );
    expect(rows).toEqual([['U_QA', 'approval.given']]);
    await page.goto(`${base}/audit`);
    await checkAccessible(page);
    await screenshots(page, 'audit');
  });

  it('the journals page shows each environment of the chain and its pointer', async () => {
    await page.goto(`${base}/journals`);
    const envs = await page.$$eval('tbody td[data-label="env"]', (tds) => tds.map((t) => t.textContent));
    expect(envs).toEqual(server.runtime.config.journal!.chain.map((l) => l.env));
    await checkAccessible(page);
    await screenshots(page, 'journals');
  });

  it('a locked environment shows on the matrix: who, why and how it ends, readable on a phone', async () => {
    expect((await run('lock api prod release freeze', 'U_LEAD')).status).toBe('ok');
    try {
      await page.goto(`${base}/`);
      const lock = page.locator('td[data-app="api"][data-env="prod"] .lock');
      await expect.poll(() => lock.textContent()).toMatch(/Locked by .+: release freeze/);
      expect(await lock.textContent()).toContain('until unlock api prod');
      expect(await page.locator('td[data-app="web"][data-env="prod"] .lock').count()).toBe(0);
      await checkAccessible(page);
      await page.setViewportSize(VIEWPORTS.phone);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        VIEWPORTS.phone.width,
      );
      await page.setViewportSize(VIEWPORTS.desktop);
      await screenshots(page, 'matrix-locked');
    } finally {
      expect((await run('unlock api prod', 'U_LEAD')).status).toBe('ok');
    }
  });

  it('an unknown operation is a page saying so, not an error', async () => {
    const res = await page.goto(`${base}/ops/op_doesnotexist1`);
    expect(res?.status()).toBe(404);
    expect(await page.textContent('h1')).toBe('Not found');
  });
});
