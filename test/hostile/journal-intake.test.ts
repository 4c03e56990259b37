/**
 * Journal intake, both sides, against the real `serve` and an in-process `journal-watch`:
 * links (to /etc/passwd, to a file elsewhere), a FIFO, an empty file, names the version
 * endpoint refuses (spaces, unicode, a leading "-", "$(…)", a newline, 240 characters) and
 * mandators outside the cluster's scope. Each goes to rejected/ with a reason file and one
 * notice, is never uploaded, never registered and never retried; a good journal dropped
 * afterwards is registered (the watcher and the server still work). A dead writer's
 * temporary upload file in the object store is removed at start.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEvent } from '../../src/journal/export-watcher.js';
import {
  dropJournal,
  eventually,
  filesUnder,
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  makeWatcher,
  startJournalServer,
} from '../support/journal-setup.js';
import { answers, family, printFamilies } from './support/summary.js';

const TOKEN = 'tok-intake-dev-modelling-0123';
const meta = (mandators = ['tech-head']) => JSON.stringify({ ticket: 'CHG0001234', mandators });

describe('journal intake', () => {
  let ws: JournalWorkspace;
  let srv: JournalServer;
  let dir: string;
  const fam = family('journal files journal-watch must refuse');

  beforeAll(async () => {
    ws = await makeJournalWorkspace();
    srv = await startJournalServer(ws, { JOURNAL_TOKENS: `dev-modelling=${TOKEN}` });
    dir = mkdtempSync(join(tmpdir(), 'conveyor-intake-'));
  });
  afterAll(async () => {
    await srv?.stop();
    ws?.remove();
    printFamilies();
  });

  it('rejects links, non-files, empty files, bad names and out-of-scope mandators for good; a good journal still goes through', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'conveyor-intake-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'not a journal');
    // A dead writer's half-written upload in the local object store.
    mkdirSync(join(ws.objectsDir, 'tmp'), { recursive: true });
    writeFileSync(join(ws.objectsDir, 'tmp', '999999.deadbeef.data'), Buffer.alloc(1024 * 1024));

    const bad: [string, () => void][] = [
      ['passwd.jnl', () => symlinkSync('/etc/passwd', join(dir, 'passwd.jnl'))],
      ['elsewhere.jnl', () => symlinkSync(join(outside, 'secret.txt'), join(dir, 'elsewhere.jnl'))],
      ['pipe.jnl', () => execFileSync('mkfifo', [join(dir, 'pipe.jnl')])],
      ['empty.jnl', () => writeFileSync(join(dir, 'empty.jnl'), '')],
      ['my orders.jnl', () => writeFileSync(join(dir, 'my orders.jnl'), 'data')],
      ['ordérs.jnl', () => writeFileSync(join(dir, 'ordérs.jnl'), 'data')],
      ['-rf.jnl', () => writeFileSync(join(dir, '-rf.jnl'), 'data')],
      ['$(id).jnl', () => writeFileSync(join(dir, '$(id).jnl'), 'data')],
      ['a\nb.jnl', () => writeFileSync(join(dir, 'a\nb.jnl'), 'data')],
      [`${'x'.repeat(240)}.jnl`, () => writeFileSync(join(dir, `${'x'.repeat(240)}.jnl`), 'data')],
      ['business.jnl', () => writeFileSync(join(dir, 'business.jnl'), 'business data')],
    ];
    for (const [name, make] of bad) {
      make();
      writeFileSync(join(dir, `${name}.meta.json`), name === 'business.jnl' ? meta(['business-head']) : meta());
    }
    const events: JournalEvent[] = [];
    const watcher = await makeWatcher(ws, srv, { cluster: 'dev-modelling', dir, token: TOKEN, events });
    await watcher.start();
    try {
      for (const [name] of bad) {
        const seen = await eventually(
          () => events.find((e) => e.kind === 'rejected' && e.file === name),
          `the rejection of ${JSON.stringify(name.slice(0, 40))}`,
          30_000,
        ).catch(() => null);
        const moved =
          existsSync(join(dir, 'rejected', `${name}.reason.txt`)) &&
          lstatExists(join(dir, 'rejected', name)) &&
          !lstatExists(join(dir, name));
        fam.record(
          Boolean(seen) && moved,
          `${JSON.stringify(name.slice(0, 40))}: event ${seen ? 'yes' : 'no'}, moved to rejected/ with a reason ${moved}`,
        );
      }
      dropJournal(dir, 'good.jnl', 'good journal data');
      const good = await eventually(
        () => events.find((e) => e.kind === 'uploaded' && e.file === 'good.jnl'),
        'the good journal',
        30_000,
      ).catch(() => null);
      fam.record(Boolean(good), 'the good journal after the refusals was not uploaded');
      // No retries: a second look finds nothing new.
      await new Promise((r) => setTimeout(r, 1_000));
      for (const [name] of bad) {
        const n = events.filter((e) => e.file === name).length;
        fam.record(n === 1, `${JSON.stringify(name.slice(0, 40))}: ${n} notices (retried?)`);
      }
    } finally {
      await watcher.stop();
    }
    const versions = (await srv.server.runtime.journal.list({ limit: 100 })).map((v) => v.file);
    fam.record(JSON.stringify(versions) === JSON.stringify(['good.jnl']), `registered: ${versions.join(', ')}`);
    const objects = filesUnder(join(ws.objectsDir, 'data'));
    fam.record(objects.length === 1 && objects[0]!.endsWith('/good.jnl'), `objects: ${objects.join(', ')}`);
    fam.record(
      readdirSync(join(ws.objectsDir, 'tmp')).length === 0,
      'the dead writer’s temporary upload is still there',
    );
    fam.record(await answers(srv.baseUrl), 'serve stopped answering');
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
  }, 120_000);
});

describe('the version endpoint trusts no caller', () => {
  let ws: JournalWorkspace;
  let srv: JournalServer;
  const fam = family('journal registrations the version endpoint must refuse');

  beforeAll(async () => {
    ws = await makeJournalWorkspace();
    srv = await startJournalServer(ws, { JOURNAL_TOKENS: `dev-modelling=${TOKEN}` });
  });
  afterAll(async () => {
    await srv?.stop();
    ws?.remove();
    printFamilies();
  });

  it('refuses made-up versions, objects that differ, out-of-scope mandators and bad names; the dev pointer never moves', async () => {
    const { createHash } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    const { versionDay } = await import('../../src/journal/version-id.js');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const day = versionDay(new Date());
    const reg = (seq: number, content: string, extra: Record<string, unknown> = {}) => {
      const version = `${day}-dev-modelling.${seq}`;
      const file = (extra.file as string) ?? 'orders.jnl';
      return {
        version,
        cluster: 'dev-modelling',
        file,
        size: Buffer.byteLength(content),
        sha256: sha(content),
        ticket: 'CHG0001234',
        mandators: ['tech-head'],
        objectKey: `journals/dev-modelling/${version}/${file}`,
        uploadedAt: new Date().toISOString(),
        ...extra,
      };
    };
    const upload = async (b: ReturnType<typeof reg>, content: string, metadata: Record<string, string> = {}) =>
      srv.server.runtime.objects.put(b.objectKey, Readable.from([Buffer.from(content)]), {
        metadata: {
          version: b.version,
          cluster: 'dev-modelling',
          sha256: sha(content),
          mandators: b.mandators.join(','),
          file: b.file,
          ...metadata,
        },
      });
    const post = async (body: unknown) =>
      (await srv.api('POST', '/api/journal/versions', { token: TOKEN, body })).status;
    const uploaded = reg(2, 'real content');
    await upload(uploaded, 'real content');
    const otherBytes = reg(3, 'claimed content');
    await upload(otherBytes, 'other content');
    const otherMandators = reg(4, 'mandator content');
    await upload(otherMandators, 'mandator content', { mandators: 'tech-head,business-head' });
    const cases: [string, unknown, number[]][] = [
      ['a made-up version (no object)', reg(1, 'never uploaded'), [409]],
      ['a size that differs from the object', { ...uploaded, size: uploaded.size + 10 }, [409]],
      ['a sha256 that differs from the upload', { ...uploaded, sha256: sha('forged') }, [409]],
      ['an object holding other bytes', otherBytes, [409]],
      ['mandators that differ from the upload', otherMandators, [409]],
      ['business-head from dev-modelling', { ...uploaded, mandators: ['business-head'] }, [403]],
      ['no mandator', { ...uploaded, mandators: [] }, [400]],
      ['an empty journal', reg(5, ''), [400]],
      ['a name with a space', reg(6, 'x', { file: 'my orders.jnl' }), [400]],
      ['a name with a newline', reg(6, 'x', { file: 'a\nb.jnl' }), [400]],
      ['a name starting with -', reg(6, 'x', { file: '-rf.jnl' }), [400]],
      ['a command substitution', reg(6, 'x', { file: '$(id).jnl' }), [400]],
      ['a 240-character name', reg(6, 'x', { file: `${'x'.repeat(240)}.jnl` }), [400]],
      [
        'an objectKey for another file',
        { ...uploaded, objectKey: uploaded.objectKey.replace('orders.jnl', 'other.jnl') },
        [400],
      ],
    ];
    for (const [name, body, expected] of cases) {
      const status = await post(body);
      if (!(await answers(srv.baseUrl))) fam.crash(name);
      else fam.record(expected.includes(status), `${name} → ${status}`);
    }
    fam.record((await srv.server.runtime.journal.list({ limit: 10 })).length === 0, 'a version was registered');
    fam.record((await srv.server.runtime.kv.get('journal_version/dev')) === null, 'the dev pointer moved');
    // The real upload registers: nothing legitimate is refused.
    fam.record((await post(uploaded)) === 201, 'the genuine registration was refused');
    expect(fam.crashed + fam.lost, fam.losses.join('\n')).toBe(0);
  });

  it('reconciliation registers no orphan object the version endpoint would refuse', async () => {
    const { createHash } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    const { versionDay } = await import('../../src/journal/version-id.js');
    const { reconcileJournalObjects } = await import('../../src/journal/reconcile.js');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const day = versionDay(new Date());
    const orphan = async (seq: number, file: string, content: string, mandators: string) => {
      const version = `${day}-dev-modelling.${seq}`;
      await srv.server.runtime.objects.put(
        `journals/dev-modelling/${version}/${file}`,
        Readable.from([Buffer.from(content)]),
        {
          metadata: {
            version,
            cluster: 'dev-modelling',
            sha256: sha(content),
            mandators,
            file: encodeURIComponent(file),
            ticket: 'CHG0001234',
          },
        },
      );
      return version;
    };
    const bad = [
      await orphan(20, 'business.jnl', 'business orphan', 'business-head'),
      await orphan(21, 'my orders.jnl', 'spaced orphan', 'tech-head'),
      await orphan(22, 'nobody.jnl', 'no mandator orphan', ''),
      await orphan(23, 'empty.jnl', '', 'tech-head'),
    ];
    const good = await orphan(24, 'orphan.jnl', 'a good orphan', 'tech-head');
    const registered = (await reconcileJournalObjects(srv.server.runtime)).map((v) => v.version);
    for (const version of bad)
      fam.record(
        !registered.includes(version) && (await srv.server.runtime.journal.get(version)) === null,
        `reconciliation registered ${version}`,
      );
    fam.record(
      registered.includes(good),
      `reconciliation did not register the good orphan ${good}: ${registered.join(', ')}`,
    );
    expect(fam.crashed + fam.lost, fam.losses.join('\n')).toBe(0);
  });
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
