/**
 * The injection corpus (test/fixtures/hostile/strings.txt) in every argument a user types —
 * app, environment, version, tag, ticket, operation id, journal version, cluster, reason — and
 * in every field of the journal HTTP API (S3 object keys, file names, Consul keys): each value
 * is refused, or (free-text reasons) rendered inert, with no side effect: no marker file from a
 * shell, refs byte-for-byte as they were, no operation, lock, journal version or key created.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReplyBlocks, renderReplyText } from '../../src/adapters/slack-blocks.js';
import type { Reply } from '../../src/core/reply.js';
import { refsOf } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import { hostileStrings, quote } from './support/corpus.js';
import { type HostileServer, startHostileServer, TOKENS } from './support/hostile-server.js';
import { parseLine as parsesAs } from './support/parse-line.js';
import { family, printFamilies } from './support/summary.js';

/** A plain file name is a legitimate `file`; only the others are hostile there. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Every `step`-th value (the corpus's first line included): a fixed, spread sample. */
const sample = <T>(values: T[], step: number): T[] => values.filter((_, i) => i % step === 0);

/** Slack mrkdwn that would notify, link or mention if it reached a message unescaped. */
const LIVE_MRKDWN = /<[!@#]|<https?:/;

function inertForSlack(reply: Reply): boolean {
  // Conveyor's own mentions (of configured approvers and the requester's id) are meant to be live;
  // nothing typed may become one.
  // An operation card's own live parts are the requester, the approvers and the <!date^…> time.
  const card = reply.card && { ...reply.card, requester: 'requester', approvals: [], requestedAt: 'when' };
  const typed = { ...reply, blocks: reply.blocks.filter((b) => b.type !== 'mentions'), ...(card ? { card } : {}) };
  return !LIVE_MRKDWN.test(JSON.stringify(renderReplyBlocks(typed))) && !LIVE_MRKDWN.test(renderReplyText(typed));
}

describe('injection corpus', () => {
  let t: TestRuntime;
  let hs: HostileServer;
  let markerDir: string;
  let marker: string;
  let corpus: string[];
  let refs: Record<string, string>;
  const fam = family('injection (command arguments)');
  const http = family('injection (journal API: S3 keys, files, Consul keys)');

  beforeAll(async () => {
    markerDir = mkdtempSync(join(tmpdir(), 'conveyor-hostile-marker-'));
    marker = join(markerDir, 'pwned');
    corpus = hostileStrings(marker);
    [t, hs] = await Promise.all([makeRuntime(), startHostileServer()]);
    refs = { api: refsOf(t.repo('api')), web: refsOf(t.repo('web')) };
  });
  afterAll(async () => {
    await Promise.all([t?.close(), hs?.close()]);
    rmSync(markerDir, { recursive: true, force: true });
    printFamilies();
  });

  const counts = async () => ({
    ops: (await t.runtime.store.operations({ limit: 10_000 })).length,
    locks: (await t.runtime.store.allLocks()).length,
  });

  const refused: [string, (v: string) => string][] = [
    ['promote app', (v) => `promote ${quote(v)} qa`],
    ['promote env', (v) => `promote api ${quote(v)}`],
    ['promote --version', (v) => `promote api qa --version ${quote(v)}`],
    ['promote --version=', (v) => `promote api qa --version=${quote(v)}`],
    ['promote --ticket', (v) => `promote api staging --ticket ${quote(v)}`],
    ['rollback app', (v) => `rollback ${quote(v)} qa`],
    ['rollback env', (v) => `rollback api ${quote(v)}`],
    ['rollback --to', (v) => `rollback api qa --to ${quote(v)}`],
    ['diff src', (v) => `diff ${quote(v)} qa api`],
    ['diff dst', (v) => `diff development ${quote(v)} api`],
    ['diff app', (v) => `diff development qa ${quote(v)}`],
    ['list app', (v) => `list ${quote(v)}`],
    ['list env', (v) => `list api ${quote(v)}`],
    ['history app', (v) => `history ${quote(v)}`],
    ['history env', (v) => `history api ${quote(v)}`],
    ['approve id', (v) => `approve ${quote(v)}`],
    ['reject id', (v) => `reject ${quote(v)} because`],
    ['lock app', (v) => `lock ${quote(v)} qa reason`],
    ['lock env', (v) => `lock api ${quote(v)} reason`],
    ['unlock app', (v) => `unlock ${quote(v)} qa`],
    ['unlock env', (v) => `unlock api ${quote(v)}`],
    ['journal promote env', (v) => `journal promote ${quote(v)}`],
    ['journal promote --version', (v) => `journal promote qa --version ${quote(v)}`],
    ['journal rollback env', (v) => `journal rollback ${quote(v)}`],
    ['journal rollback --to', (v) => `journal rollback qa --to ${quote(v)}`],
    ['journal list --cluster', (v) => `journal list --cluster ${quote(v)}`],
    ['help command', (v) => `help ${quote(v)}`],
  ];

  it('refuses every corpus value in every typed position, with no side effect', async () => {
    const before = await counts();
    let n = 0;
    for (const [position, command] of refused) {
      for (const value of corpus) {
        const text = command(value);
        // Values the grammar refuses never get past the dispatcher's first lines: every one is
        // checked there; the real dispatcher runs each value the grammar lets through, and one
        // refused value in twelve (for the rendering of the refusal).
        const stage = parsesAs(text);
        if (stage === 'usage' && n++ % 12 !== 0) {
          fam.record(true);
          continue;
        }
        const reply = await t.run(text, 'U_DEMO');
        // a read-only filter with a well-formed unknown name answers "nothing", which is inert
        // (and `help "--"` is plain `help`: the command list)
        const inertFilter =
          (position === 'journal list --cluster' && /^[a-z][a-z0-9-]{0,62}$/.test(value)) ||
          (position === 'help command' && value === '--');
        const ok =
          (reply.status !== 'ok' || inertFilter) &&
          reply.operation === undefined &&
          reply.title.length < 400 &&
          inertForSlack(reply);
        fam.record(
          ok,
          `${position}: ${JSON.stringify(value.slice(0, 60))} → ${reply.status} ${reply.title.slice(0, 120)}`,
        );
      }
      expect(existsSync(marker), position).toBe(false);
    }
    expect(await counts()).toEqual(before);
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  }, 600_000);

  it('keeps free-text reasons inert: shown escaped for Slack, never run, never a mention', async () => {
    for (const [i, value] of sample(corpus, 2).entries()) {
      const locked = await t.run(`lock web qa ${quote(value)}`, 'U_DEMO');
      let ok = locked.status !== 'ok' || inertForSlack(locked);
      if (locked.status === 'ok') {
        if (i % 6 === 0) {
          const blocked = await t.run('promote web qa', 'U_DEMO');
          ok &&= blocked.status === 'refused' && inertForSlack(blocked);
        }
        ok &&= (await t.run('unlock web qa', 'U_DEMO')).status === 'ok';
      }
      fam.record(ok, `lock reason ${JSON.stringify(value.slice(0, 60))} → ${locked.status}`);
    }
    // reject reasons: one operation waiting in staging per reason, rejected with it
    const reasons = sample(
      corpus.filter((v) => v.length <= 500 && /[<>&`$;'"|*_~]/.test(v)),
      2,
    );
    for (const value of reasons) {
      const asked = await t.run('promote api staging', 'U_DEMO');
      if (!asked.operation) throw new Error(`could not ask: ${asked.text}`);
      const rejected = await t.run(`reject ${asked.operation.id} ${quote(value)}`, 'U_QA');
      if (rejected.status !== 'ok') await t.run(`reject ${asked.operation.id}`, 'U_DEMO');
      fam.record(
        inertForSlack(rejected) && rejected.status !== 'error',
        `reject reason ${JSON.stringify(value.slice(0, 60))} → ${rejected.status}`,
      );
    }
    const history = await t.run('history api staging', 'U_DEMO');
    fam.record(history.status === 'ok' && inertForSlack(history), 'history with hostile reasons');
    expect(existsSync(marker)).toBe(false);
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  }, 600_000);

  it('left every ref as it was, and the store (SQL values included) still answers', async () => {
    expect(refsOf(t.repo('api'))).toBe(refs.api);
    expect(refsOf(t.repo('web'))).toBe(refs.web);
    expect((await t.run('history', 'U_DEMO')).status).toBe('ok');
    expect((await t.runtime.store.allLocks()).filter((l) => l.manual)).toEqual([]);
  });

  const version = '2026.11.23-dev-modelling.1';
  const validBody = {
    version,
    cluster: 'dev-modelling',
    file: 'journal.csv',
    size: 10,
    sha256: 'a'.repeat(64),
    mandators: ['tech-head'],
    objectKey: `journals/dev-modelling/${version}/journal.csv`,
    uploadedAt: new Date().toISOString(),
  };
  /** POST, once more on a reset keep-alive socket (a client race, not the server's answer). */
  const post = (path: string, body: unknown, token: string = TOKENS['dev-modelling']): Promise<Response> =>
    postOnce(path, body, token).catch((err: Error) => {
      if ((err.cause as { code?: string } | undefined)?.code !== 'ECONNRESET') throw err;
      return postOnce(path, body, token);
    });
  const postOnce = (path: string, body: unknown, token: string) =>
    fetch(`${hs.base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('refuses hostile S3 object keys, file names and ids in journal registrations', async () => {
    const fields = ['version', 'cluster', 'file', 'objectKey', 'ticket', 'sha256'] as const;
    const keys = [
      `journals/dev-modelling/${version}/../../other/x`,
      `journals/dev-modelling/${version}/../../../etc/passwd`,
      `other/dev-modelling/${version}/journal.csv`,
      `journals/prod-modelling/${version}/journal.csv`,
      `journals/dev-modelling/2026.11.23-dev-modelling.2/journal.csv`,
      `/journals/dev-modelling/${version}/journal.csv`,
      `journals/dev-modelling/${version}`,
    ];
    const cases = [
      ...fields.flatMap((f) =>
        sample(corpus, 3)
          .filter((v) => f !== 'file' || !FILE_NAME.test(v))
          .map((v) => ({ ...validBody, [f]: v })),
      ),
      ...keys.map((objectKey) => ({ ...validBody, objectKey })),
      { ...validBody, mandators: ['tech-head', 'business-head', 'admin'] },
      { ...validBody, size: -1 },
      `{"__proto__":{"cluster":"prod-modelling"},${JSON.stringify({ ...validBody, cluster: undefined }).slice(1)}`,
    ];
    for (const body of cases) {
      const res = await post('/api/journal/versions', body);
      http.record(
        res.status >= 400 && res.status < 500,
        `register ${JSON.stringify(body).slice(0, 160)} → ${res.status}`,
      );
    }
    expect(await hs.server.runtime.journal.list({ limit: 10 })).toEqual([]);
    expect(http.lost, http.losses.join('\n')).toBe(0);
  }, 120_000);

  it('refuses hostile query values and version ids on the read endpoints without an error', async () => {
    for (const v of sample(corpus, 2)) {
      const q = encodeURIComponent(v);
      for (const path of [
        `/api/journal/versions?cluster=${q}`,
        `/api/journal/versions?day=${q}`,
        `/api/journal/versions/latest?cluster=${q}`,
        `/api/journal/versions/${q}`,
      ]) {
        const res = await fetch(`${hs.base}${path}`);
        await res.arrayBuffer();
        http.record(
          res.status < 500 &&
            (res.status !== 200 || path.includes('cluster=') === false || /^[a-z][a-z0-9-]{0,62}$/.test(v)),
          `GET ${path.slice(0, 120)} → ${res.status}`,
        );
      }
    }
    expect(http.lost, http.losses.join('\n')).toBe(0);
  }, 120_000);

  it('refuses Consul keys outside the journal prefix, however encoded, and writes nothing', async () => {
    const kv = hs.server.runtime.kv;
    const keys = [
      ...sample(corpus, 2),
      'journal_version/../secret',
      'journal_version/dev/../../x',
      'journal_version%2F..%2Fsecret',
      'other/dev',
      'journal_version',
      'journal_versionX/dev',
      '/journal_version/dev',
      'JOURNAL_VERSION/dev',
    ];
    for (const key of keys) {
      for (const path of [`/v1/kv/${encodeURIComponent(key)}`, `/v1/kv/${key}`]) {
        let status = 0;
        try {
          const res = await fetch(`${hs.base}${path}?cas=0`, {
            method: 'PUT',
            headers: { 'x-consul-token': TOKENS.qa },
            body: '2026.11.23-dev-modelling.9',
          });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = 400; // the client itself refused the URL
        }
        const inside = /^journal_version\/[a-z][a-z0-9-]{0,30}$/.test(key);
        http.record(inside || (status >= 400 && status < 500), `PUT ${path.slice(0, 100)} → ${status}`);
        if (!inside) http.record((await kv.get(key)) === null, `key ${key.slice(0, 80)} was written`);
      }
    }
    expect(http.lost, http.losses.join('\n')).toBe(0);
    expect(existsSync(marker)).toBe(false);
  }, 120_000);
});
