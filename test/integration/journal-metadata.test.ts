/**
 * A journal version's true metadata (seed 000 §4.4, issue 24): when it was exported (the
 * sidecar's `exportedAt`, else the file's modification time when journal-watch first saw it),
 * uploaded and registered, its size, sha256, source cluster, ticket, mandators, and who uploaded
 * it (the cluster whose token registered it) — in `journal list` and the version endpoint.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalExportWatcher } from '../../src/journal/export-watcher.js';
import {
  eventually,
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  makeWatcher,
  startJournalServer,
} from '../support/journal-setup.js';

describe('journal metadata', () => {
  let ws: JournalWorkspace;
  let srv: JournalServer;
  let watcher: JournalExportWatcher;
  const withExportedAt = Buffer.from('mandator,tech-head\nrate,1.10\n');
  const withoutExportedAt = Buffer.from('mandator,tech-head\nrate,1.20\nrate,1.30\n');
  const fileTime = new Date('2026-11-21T10:00:00Z');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  beforeAll(async () => {
    ws = await makeJournalWorkspace();
    srv = await startJournalServer(ws, { JOURNAL_TOKENS: 'dev-modelling=tok-dev-modelling-1234' });
    const dir = join(ws.root, 'exports');
    mkdirSync(dir);
    // the exporter says when it exported (another time zone: stored in UTC)
    writeFileSync(join(dir, 'rates-a.dat'), withExportedAt);
    writeFileSync(
      join(dir, 'rates-a.dat.meta.json'),
      JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'], exportedAt: '2026-11-20T08:15:00+01:00' }),
    );
    // this one does not: its modification time is the export time
    writeFileSync(join(dir, 'rates-b.dat'), withoutExportedAt);
    utimesSync(join(dir, 'rates-b.dat'), fileTime, fileTime);
    writeFileSync(
      join(dir, 'rates-b.dat.meta.json'),
      JSON.stringify({ ticket: 'CHG0005678', mandators: ['tech-head'] }),
    );
    watcher = await makeWatcher(ws, srv, { cluster: 'dev-modelling', dir, token: 'tok-dev-modelling-1234' });
    await watcher.start();
    await eventually(
      async () => (await srv.api('GET', '/api/journal/versions')).json?.versions?.length === 2,
      'both journals registered',
    );
  }, 60_000);

  afterAll(async () => {
    await watcher?.stop();
    await srv?.stop();
    ws?.remove();
  });

  it('the version endpoint answers every field, with and without exportedAt', async () => {
    const { versions } = (await srv.api('GET', '/api/journal/versions', { token: null })).json as {
      versions: Record<string, unknown>[];
    };
    const a = versions.find((v) => v.file === 'rates-a.dat')!;
    const b = versions.find((v) => v.file === 'rates-b.dat')!;
    expect(a).toMatchObject({
      cluster: 'dev-modelling',
      size: withExportedAt.length,
      sha256: sha(withExportedAt),
      ticket: 'CHG0001234',
      mandators: ['tech-head'],
      exportedAt: '2026-11-20T07:15:00.000Z',
      uploadedBy: 'dev-modelling',
      objectKey: `journals/dev-modelling/${a.version}/rates-a.dat`,
    });
    expect(b).toMatchObject({
      size: withoutExportedAt.length,
      sha256: sha(withoutExportedAt),
      ticket: 'CHG0005678',
      exportedAt: fileTime.toISOString(),
      uploadedBy: 'dev-modelling',
    });
    for (const v of [a, b]) {
      // exported before uploaded, uploaded before (or when) registered
      expect(Date.parse(String(v.uploadedAt))).toBeGreaterThan(Date.parse(String(v.exportedAt)));
      expect(Date.parse(String(v.registeredAt))).toBeGreaterThanOrEqual(Date.parse(String(v.uploadedAt)));
    }
    // one version by id says the same
    expect((await srv.api('GET', `/api/journal/versions/${a.version}`, { token: null })).json).toEqual(a);
  });

  it('journal list shows them in one compact row per version', async () => {
    const reply = await srv.run('journal list', 'U_DEMO');
    const table = reply.blocks.find((b) => b.type === 'table') as { header: string[]; rows: string[][] };
    expect(table.header).toEqual([
      'version',
      'file',
      'size',
      'sha256',
      'ticket · mandators',
      'exported → uploaded → registered (UTC)',
      'uploaded by',
    ]);
    const rowA = table.rows.find((r) => r[1] === 'rates-a.dat')!;
    const rowB = table.rows.find((r) => r[1] === 'rates-b.dat')!;
    expect(rowA[0]).toMatch(/^\d{4}\.\d{2}\.\d{2}-dev-modelling\.\d+$/);
    expect(rowA.slice(2, 5)).toEqual([
      `${withExportedAt.length} B`,
      `${sha(withExportedAt).slice(0, 12)}…`,
      'CHG0001234 · tech-head',
    ]);
    expect(rowA[5]).toMatch(/^2026-11-20 07:15 → \+\d+[smhd] → \+\d+[smhd]$/);
    expect(rowA[6]).toBe('dev-modelling');
    expect(rowB[4]).toBe('CHG0005678 · tech-head');
    expect(rowB[5]).toMatch(/^2026-11-21 10:00 → \+\d+[smhd] → \+\d+[smhd]$/);
  });

  it('refuses a sidecar whose exportedAt is not a time', async () => {
    const dir = join(ws.root, 'exports');
    const events: string[] = [];
    const other = await makeWatcher(ws, srv, {
      cluster: 'dev-modelling',
      dir,
      token: 'tok-dev-modelling-1234',
      notify: async (e) => void events.push(`${e.kind}: ${e.reason}`),
    });
    await watcher.stop();
    await other.start();
    writeFileSync(join(dir, 'rates-c.dat'), 'x\n');
    writeFileSync(
      join(dir, 'rates-c.dat.meta.json'),
      JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'], exportedAt: 'yesterday' }),
    );
    await eventually(() => events.find((e) => e.startsWith('rejected')), 'the rejection');
    await other.stop();
    expect(events.find((e) => e.startsWith('rejected'))).toMatch(/exportedAt/);
  });
});
