/**
 * The journal pipeline end to end, over real HTTP against an in-process `serve` (sandbox:
 * embedded KV behind its Consul-shaped endpoint, local object store): an export on the dev
 * modelling cluster is uploaded and registered, seeds journal_version/dev, the dev agent
 * imports it, qa follows automatically, dit waits for U_QA's approval. Later versions walk
 * the chain one step at a time; a failing import stops the chain there.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalExportWatcher } from '../../src/journal/export-watcher.js';
import { FaultProxy } from '../support/fault-proxy.js';
import {
  dropJournal,
  eventually,
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  makeWatcher,
  type RunningAgent,
  startAgent,
  startJournalServer,
} from '../support/journal-setup.js';

/** Appends "<env> <version> <content>" to imports.log; exits 3 when fail-<env> exists. */
const IMPORT_SCRIPT = `
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.argv[2];
const file = process.argv[3];
const env = process.env.JOURNAL_ENV;
if (existsSync(join(dir, 'fail-' + env))) { console.error('table ORDERS is locked'); process.exit(3); }
appendFileSync(join(dir, 'imports.log'), env + ' ' + process.env.JOURNAL_VERSION + ' ' + readFileSync(file, 'utf8') + '\\n');
console.log('imported ' + process.env.JOURNAL_VERSION);
`;

let ws: JournalWorkspace;
let srv: JournalServer;
let watcher: JournalExportWatcher;
let devProxy: FaultProxy;
const agents: Record<string, RunningAgent> = {};
let importCommand: string[];
let exports: string;

const importsLog = (): string[] => {
  const file = join(ws.root, 'imports.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
};
const versions = async (): Promise<string[]> =>
  ((await srv.api('GET', '/api/journal/versions?cluster=dev-modelling')).json.versions as { version: string }[]).map(
    (v) => v.version,
  );
const pointer = async (env: string) => (await srv.status())[env]!.pointsAt;

async function exportJournal(name: string, content: string): Promise<string> {
  const before = await versions();
  dropJournal(exports, name, content);
  return eventually(async () => (await versions()).find((v) => !before.includes(v)), `${name} to be registered`);
}

beforeAll(async () => {
  ws = await makeJournalWorkspace();
  srv = await startJournalServer(ws);
  writeFileSync(join(ws.root, 'import.mjs'), IMPORT_SCRIPT);
  importCommand = [process.execPath, join(ws.root, 'import.mjs'), ws.root, '{file}'];
  exports = join(ws.root, 'exports');
  devProxy = await FaultProxy.start({ host: '127.0.0.1', port: srv.port });
  agents.dev = await startAgent(ws, srv, { env: 'dev', importCommand, kvPort: devProxy.port });
  agents.qa = await startAgent(ws, srv, { env: 'qa', importCommand });
  agents.dit = await startAgent(ws, srv, { env: 'dit', importCommand });
  dropJournal(exports, 'placeholder.tmp', 'ignored'); // creates the folder; temp names are skipped
  watcher = await makeWatcher(ws, srv, { cluster: 'dev-modelling', dir: exports });
  await watcher.start();
});

afterAll(async () => {
  await watcher?.stop();
  for (const a of Object.values(agents)) await a.stop();
  await devProxy?.close();
  await srv?.stop();
  ws?.remove();
});

describe('journal chain dev → qa → dit', () => {
  let v1 = '';
  let v2 = '';
  let v3 = '';

  it('a dev export seeds journal_version/dev; dev imports, qa follows, dit waits for its gate', async () => {
    expect(await srv.status()).toMatchObject({
      dev: { pointsAt: '(unset)' },
      qa: { pointsAt: '(unset)' },
      dit: { pointsAt: '(unset)' },
    });
    v1 = await exportJournal('orders.jnl', 'V1');
    expect(v1).toMatch(/^\d{4}\.\d{2}\.\d{2}-dev-modelling\.1$/);
    await eventually(() => existsSync(join(exports, 'uploaded', 'orders.jnl')), 'the journal to move to uploaded/');

    await eventually(() => importsLog().includes(`dev ${v1} V1`), 'dev to import V1');
    await eventually(() => importsLog().includes(`qa ${v1} V1`), 'qa to import V1');
    const status = await eventually(async () => {
      const s = await srv.status();
      return s.qa!.lastImport === `ok ${v1}` && s;
    }, 'status to show the qa import');
    // qa already points at what dev imported: nothing is next for dev
    expect(status.dev).toMatchObject({ pointsAt: v1, lastImport: `ok ${v1}`, next: '—' });
    expect(status.qa).toMatchObject({ pointsAt: v1, lastImport: `ok ${v1}`, next: 'journal promote dit' });
    expect(status.dit).toMatchObject({ pointsAt: '(unset)', lastImport: '—' });
    expect(importsLog().filter((l) => l.startsWith('dit '))).toEqual([]);
  });

  it('agents wait in blocking queries on their keys instead of polling', async () => {
    const settled = devProxy.counters.requests;
    // A polling agent would ask many times here; a blocking one at most once (its wait is 2 s).
    await new Promise((r) => setTimeout(r, 700));
    expect(devProxy.counters.requests - settled).toBeLessThanOrEqual(1);
  });

  it('journal promote dit waits for the qa-lead, then dit imports', async () => {
    const asked = await srv.run('journal promote dit', 'U_DEMO');
    expect(asked.status).toBe('ok');
    expect(asked.operation?.state).toBe('awaiting-approval');
    expect(await pointer('dit')).toBe('(unset)');

    const self = await srv.run(`approve ${asked.operation!.id}`, 'U_DEMO');
    expect(self.status).not.toBe('ok');
    expect(await pointer('dit')).toBe('(unset)');

    const approved = await srv.run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(approved.status).toBe('ok');
    expect(await pointer('dit')).toBe(v1);
    await eventually(() => importsLog().includes(`dit ${v1} V1`), 'dit to import V1');
    await eventually(async () => (await srv.status()).dit!.lastImport === `ok ${v1}`, 'status to show the dit import');
  });

  it('a second export moves dev first; qa follows once dev imported it; dit stays behind', async () => {
    await agents.dev!.stop(); // hold dev's import to see the chain mid-way
    v2 = await exportJournal('orders-2.jnl', 'V2');
    expect(v2).not.toBe(v1);
    const mid = await srv.status();
    expect(mid.dev).toMatchObject({
      pointsAt: v2,
      lastImport: `ok ${v1}`,
      next: `waiting for the dev agent to import ${v2}`,
    });
    expect(mid.qa!.pointsAt).toBe(v1);
    expect(mid.dit!.pointsAt).toBe(v1);

    const before = devProxy.counters.requests;
    agents.dev = await startAgent(ws, srv, { env: 'dev', importCommand, kvPort: devProxy.port });
    await eventually(() => importsLog().includes(`dev ${v2} V2`), 'dev to import V2');
    // One read of the current pointer, then blocking queries: no polling in between.
    expect(devProxy.counters.requests - before).toBeLessThanOrEqual(3);
    await eventually(() => importsLog().includes(`qa ${v2} V2`), 'qa to import V2');
    const after = await eventually(async () => {
      const s = await srv.status();
      return s.qa!.lastImport === `ok ${v2}` && s;
    }, 'status to show qa at V2');
    expect(after.dev).toMatchObject({ pointsAt: v2, lastImport: `ok ${v2}` });
    expect(after.dit).toMatchObject({ pointsAt: v1, lastImport: `ok ${v1}` });
  });

  it('an agent restarted after a successful import does not import again', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: srv.port });
    try {
      await agents.qa!.stop();
      const lines = importsLog().length;
      agents.qa = await startAgent(ws, srv, { env: 'qa', importCommand, kvPort: proxy.port });
      // The second request is the blocking query issued after the current pointer was handled.
      await eventually(() => proxy.counters.requests >= 2, 'the restarted qa agent to handle its pointer');
      expect(importsLog().length).toBe(lines);
      expect(agents.qa.reports).toEqual([]);
    } finally {
      await agents.qa!.stop();
      await proxy.close();
      agents.qa = await startAgent(ws, srv, { env: 'qa', importCommand });
    }
  });

  it('three versions spread along the chain: dev Vn, qa Vn-1, dit Vn-2', async () => {
    await agents.dev!.stop();
    v3 = await exportJournal('orders-3.jnl', 'V3');
    const s = await srv.status();
    expect([s.dev!.pointsAt, s.qa!.pointsAt, s.dit!.pointsAt]).toEqual([v3, v2, v1]);
  });

  it('a failing import is reported, shown as failed, and the chain stops there', async () => {
    writeFileSync(join(ws.root, 'fail-dev'), '');
    try {
      agents.dev = await startAgent(ws, srv, { env: 'dev', importCommand, kvPort: devProxy.port });
      const report = await eventually(() => agents.dev!.reports.find((r) => r.version === v3), 'the failed dev report');
      expect(report).toMatchObject({ ok: false, exitCode: 3 });
      expect(report.outputTail).toContain('table ORDERS is locked');
      const s = await srv.status();
      expect(s.dev).toMatchObject({
        pointsAt: v3,
        lastImport: `failed (exit 3) ${v3}`,
        next: 'the import failed; once fixed: journal retry dev',
      });
      expect(s.qa!.pointsAt).toBe(v2);
      expect(s.dit!.pointsAt).toBe(v1);
      const forced = await srv.run(`journal promote qa --version ${v3}`, 'U_DEMO');
      expect(forced.status).not.toBe('ok');
      expect(forced.title).toContain('has not imported');
      expect(await pointer('qa')).toBe(v2);
      expect(importsLog().filter((l) => l.includes(v3))).toEqual([]);
    } finally {
      rmSync(join(ws.root, 'fail-dev'), { force: true });
    }
  });
});
