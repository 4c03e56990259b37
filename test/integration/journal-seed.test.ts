/**
 * `journal seed`: a dry run, then the seed (gated like a promotion into dit, the most guarded
 * environment it moves), then an import agent in each environment importing the version its
 * pointer names; a second seed changes nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportAgent } from '../../src/journal/import-agent.js';
import { journalChain } from '../../src/server/wiring.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('journal seed', () => {
  let t: TestRuntime;
  let dir: string;
  const versions: string[] = [];
  const pointer = async (env: string) => (await t.runtime.kv.get(`journal_version/${env}`))?.value ?? null;

  beforeAll(async () => {
    // qa follows by hand here, so each environment keeps the version seeding gave it
    t = await makeRuntime({
      edit: (c) => {
        c.journal.chain[1].auto = false;
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'conveyor-seed-'));
    for (let n = 1; n <= 3; n++) {
      const version = `2026.11.25-dev-modelling.${n}`;
      const body = Buffer.from(`journal ${n}\n`);
      const sha256 = createHash('sha256').update(body).digest('hex');
      const objectKey = `journals/dev-modelling/${version}/rates.dat`;
      await t.runtime.objects.put(objectKey, Readable.from(body), { metadata: { version, sha256 }, size: body.length });
      await t.runtime.journal.register({
        version,
        cluster: 'dev-modelling',
        file: 'rates.dat',
        size: body.length,
        sha256,
        ticket: null,
        mandators: ['tech-head'],
        objectKey,
        uploadedAt: new Date().toISOString(),
      } as never);
      versions.push(version);
    }
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dry run: what would move, nothing moved', async () => {
    const dry = await t.run('journal seed --dry-run', 'U_DEMO');
    expect(dry.status).toBe('ok');
    expect(dry.text).toContain(`journal_version/dev: (unset) → ${versions[2]}`);
    expect(dry.text).toContain(`journal_version/qa: (unset) → ${versions[1]}`);
    expect(dry.text).toContain(`journal_version/dit: (unset) → ${versions[0]}`);
    expect(await pointer('dev')).toBeNull();
  });

  it('seeds every environment behind the gate of the most guarded one, then each imports its version', async () => {
    const asked = await t.run('journal seed', 'U_DEMO');
    expect(asked.operation?.state).toBe('awaiting-approval');
    expect(asked.text).toContain('qa-lead: 0/1');
    expect(await pointer('dev')).toBeNull();
    const done = await t.run(`approve ${asked.operation!.id}`, 'U_QA');
    expect(done.operation?.state).toBe('succeeded');
    expect([await pointer('dev'), await pointer('qa'), await pointer('dit')]).toEqual([
      versions[2],
      versions[1],
      versions[0],
    ]);
    expect((await t.runtime.store.auditLog({ limit: 50 })).some((e) => e.action === 'journal.seeded')).toBe(true);

    const log = join(dir, 'imports.log');
    const stop = new AbortController();
    const agents = ['dev', 'qa', 'dit'].map((env) =>
      new ImportAgent({
        env,
        key: `journal_version/${env}`,
        kv: t.runtime.kv,
        objects: t.runtime.objects,
        resolveVersion: async (v) => {
          const found = await t.runtime.journal.get(v);
          return { objectKey: found!.objectKey, sha256: found!.sha256, size: found!.size, file: found!.file };
        },
        importCommand: [
          process.execPath,
          '-e',
          `require('fs').appendFileSync(${JSON.stringify(log)}, '${env} ' + require('fs').readFileSync(process.argv[1], 'utf8'))`,
        ],
        timeoutMs: 60_000,
        stateFile: join(dir, `agent-${env}.json`),
        workDir: dir,
        waitMs: 1_000,
        signal: stop.signal,
        report: (r) => journalChain(t.runtime).onImport({ ...r, error: r.error ?? null }),
      }).run(),
    );
    try {
      for (let i = 0; i < 300; i++) {
        const done = await Promise.all(['dev', 'qa', 'dit'].map((e) => t.runtime.journal.lastGoodImport(e)));
        if (done.every(Boolean)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      stop.abort();
      await Promise.allSettled(agents);
    }
    for (const [env, v] of [
      ['dev', versions[2]],
      ['qa', versions[1]],
      ['dit', versions[0]],
    ] as const) {
      expect((await t.runtime.journal.lastGoodImport(env))?.version, `${env} imported what its pointer names`).toBe(v);
    }
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean).sort()).toEqual([
      'dev journal 3',
      'dit journal 1',
      'qa journal 2',
    ]);
  });

  it('a second seed changes nothing', async () => {
    const before = await Promise.all(['dev', 'qa', 'dit'].map((e) => t.runtime.kv.get(`journal_version/${e}`)));
    const again = await t.run('journal seed', 'U_DEMO');
    expect(again.status).toBe('ok');
    expect(again.operation).toBeUndefined();
    expect(again.title).toBe('every environment of the chain already points where seeding would put it');
    const after = await Promise.all(['dev', 'qa', 'dit'].map((e) => t.runtime.kv.get(`journal_version/${e}`)));
    expect(after.map((e) => e?.modifyIndex)).toEqual(before.map((e) => e?.modifyIndex));
  });

  it('seedOnEmpty: an empty chain is seeded at start, a seeded one is left alone', async () => {
    const empty = await makeRuntime({
      edit: (c) => {
        c.journal.seedOnEmpty = true;
      },
    });
    try {
      for (const v of await t.runtime.journal.list({ limit: 10 })) await empty.runtime.journal.register(v as never);
      const id = await journalChain(empty.runtime).seedIfEmpty();
      expect(id).toMatch(/^op_/);
      const op = await empty.runtime.store.operation(id!);
      expect(op.requester).toBe('conveyor');
      expect(op.state).toBe('awaiting-approval'); // dit's gate still needs a qa-lead
      expect(await journalChain(t.runtime).seedIfEmpty()).toBeNull(); // t's chain is seeded already
    } finally {
      await empty.close();
    }
  });
});
