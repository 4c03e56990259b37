import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileJournalObjects } from '../../src/journal/reconcile.js';
import { wireControllerless } from '../../src/server/wiring.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('journal reconciliation', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await makeRuntime();
    wireControllerless(t.runtime);
  });
  afterAll(async () => t?.close());

  it('registers an uploaded journal that was never registered, seeds the chain, and says so', async () => {
    const body = Buffer.from('journal rows\n'.repeat(100));
    const sha256 = createHash('sha256').update(body).digest('hex');
    const version = '2026.11.23-dev-modelling.7';
    const key = `journals/dev-modelling/${version}/rates.dat`;
    await t.runtime.objects.put(key, Readable.from(body), {
      metadata: {
        version,
        cluster: 'dev-modelling',
        sha256,
        mandators: 'tech-head',
        file: 'rates.dat',
        ticket: 'CHG0001234',
      },
      size: body.length,
    });
    // an object outside the rules is left alone
    await t.runtime.objects.put('journals/qa-execution/2026.11.23-qa-execution.1/x.dat', Readable.from(body), {
      metadata: { version: '2026.11.23-qa-execution.1', cluster: 'qa-execution', sha256 },
      size: body.length,
    });

    const registered = await reconcileJournalObjects(t.runtime);
    expect(registered.map((v) => v.version)).toEqual([version]);
    const stored = await t.runtime.journal.get(version);
    expect(stored).toMatchObject({
      sha256,
      size: body.length,
      file: 'rates.dat',
      ticket: 'CHG0001234',
      objectKey: key,
    });
    expect((await t.runtime.kv.get('journal_version/dev'))?.value).toBe(version);
    expect(t.notifier.sent.some((m) => m.notice.text.includes('never registered'))).toBe(true);

    // a second pass registers nothing new
    expect(await reconcileJournalObjects(t.runtime)).toEqual([]);
    expect((await t.runtime.journal.list()).length).toBe(1);
  });
});
