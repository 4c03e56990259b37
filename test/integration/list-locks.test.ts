/**
 * Locks are visible where people look: `list` (its text table, the matrix view model and the
 * Slack rendering of it) and the web board's matrix (served over HTTP) say which app and
 * environment is locked, by whom, why, since when and until what (`unlock …`), for one app and for
 * every app (`lock * <env>`); an unlock takes it away again. Real sandbox repositories and store.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReplyBlocks } from '../../src/adapters/slack-blocks.js';
import { PHONE_LINE } from '../../src/adapters/slack-matrix-blocks.js';
import type { MatrixView } from '../../src/core/reply.js';
import { addBoard, type Board } from '../../src/server/board/index.js';
import { HttpServer } from '../../src/server/http-server.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

let t: TestRuntime;
let http: HttpServer;
let board: Board;
let base: string;

const cellOf = (view: MatrixView, app: string, env: string) =>
  view.apps.find((a) => a.name === app)!.cells.find((c) => c.env.split(' ')[0] === env)!;
const rowOf = (text: string, app: string, env: string) =>
  text.split('\n').find((l) => new RegExp(`^${app}\\s+${env}\\b`).test(l.trim())) ?? '';

/** The board's matrix cell of (app, env), as served. */
async function boardCell(app: string, env: string): Promise<string> {
  const res = await fetch(`${base}/`);
  expect(res.status).toBe(200);
  const page = await res.text();
  const start = page.indexOf(`data-app="${app}" data-env="${env}"`);
  expect(start).toBeGreaterThan(0);
  return page.slice(start, page.indexOf('</td>', start));
}

beforeAll(async () => {
  t = await makeRuntime();
  http = new HttpServer(pino({ level: 'silent' }));
  board = addBoard(http, t.runtime, {
    db: t.runtime.state.db,
    secrets: {},
    serveToken: () => 'unused-local-token-0123456789',
    sandbox: true,
    log: pino({ level: 'silent' }),
  });
  base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
});

afterAll(async () => {
  board?.close();
  await http?.close();
  await t?.close();
});

describe('locks in list and on the board', () => {
  it('nothing is shown as locked before a lock', async () => {
    const reply = await t.run('list');
    expect(reply.text).not.toContain('locked');
    expect(cellOf(reply.matrix!, 'api', 'prod').lock).toBeNull();
    expect(await boardCell('api', 'prod')).not.toContain('Locked');
  });

  it('a lock of one app shows who, why and how it ends, in list, in Slack and on the board', async () => {
    expect((await t.run('lock api prod release freeze <until Friday>', 'U_LEAD')).status).toBe('ok');
    const reply = await t.run('list');
    expect(rowOf(reply.text, 'api', 'prod')).toContain(
      'locked by U_LEAD: release freeze <until Friday> (until `unlock api prod`)',
    );
    expect(rowOf(reply.text, 'web', 'prod')).not.toContain('locked');
    expect(rowOf(reply.text, 'api', 'staging')).not.toContain('locked');
    const lock = cellOf(reply.matrix!, 'api', 'prod').lock!;
    expect(lock).toMatchObject({
      by: 'U_LEAD',
      reason: 'release freeze <until Friday>',
      until: null,
      allApps: false,
      unlock: 'unlock api prod',
    });
    expect(Date.parse(lock.since)).toBeGreaterThan(0);
    expect(cellOf(reply.matrix!, 'web', 'prod').lock).toBeNull();

    // Slack: the phone matrix carries a lock line in the api/prod field only, within the phone width.
    const blocks = JSON.stringify(renderReplyBlocks(reply));
    expect(blocks).toContain(':lock: locked by U_LEAD: release freeze &lt;until F…'); // cut to the phone width
    expect(blocks.match(/:lock:/g)).toHaveLength(1);
    const fields = renderReplyBlocks(reply).flatMap((b) =>
      'fields' in b && Array.isArray(b.fields) ? (b.fields as { text: string }[]).map((f) => f.text) : [],
    );
    for (const line of fields.flatMap((f) => f.split('\n'))) expect(line.length).toBeLessThanOrEqual(PHONE_LINE);

    // The board: the cell says it, escaped.
    const cell = await boardCell('api', 'prod');
    expect(cell).toContain('<strong>Locked</strong> by U_LEAD: release freeze &lt;until Friday&gt;');
    expect(cell).toContain('until <code>unlock api prod</code>');
    expect(await boardCell('web', 'prod')).not.toContain('Locked');
  });

  it('a lock of every app in an environment shows on each app; unlock takes it away', async () => {
    expect((await t.run('lock * staging audit week', 'U_QA')).status).toBe('ok');
    const reply = await t.run('list');
    for (const app of ['api', 'web']) {
      expect(rowOf(reply.text, app, 'staging')).toContain(
        'locked (every app) by U_QA: audit week (until `unlock * staging`)',
      );
      expect(cellOf(reply.matrix!, app, 'staging').lock?.allApps).toBe(true);
      expect(await boardCell(app, 'staging')).toContain('<strong>Locked</strong> (every app) by U_QA: audit week');
    }
    expect(JSON.stringify(renderReplyBlocks(reply))).toContain(':lock: every app locked by U_QA: audit week');

    expect((await t.run('unlock api prod', 'U_LEAD')).status).toBe('ok');
    expect((await t.run('unlock * staging', 'U_QA')).status).toBe('ok');
    const after = await t.run('list');
    expect(after.text).not.toContain('locked');
    expect(await boardCell('api', 'prod')).not.toContain('Locked');
    expect(await boardCell('web', 'staging')).not.toContain('Locked');
  });
});
