/**
 * `journal register <object-key>`: the manual correction when a journal was uploaded but its
 * registration failed. Only the configured registrars may; the object is read back and must be
 * what the uploader recorded; then the chain follows as for any new version.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('journal register', () => {
  let t: TestRuntime;
  const version = '2026.11.25-dev-modelling.4';
  const key = `journals/dev-modelling/${version}/rates.dat`;
  const body = Buffer.from('rates,1\nrates,2\n');
  const sha256 = createHash('sha256').update(body).digest('hex');
  const upload = (k: string, content: Buffer, recorded: string, v = version) =>
    t.runtime.objects.put(k, Readable.from(content), {
      metadata: { version: v, cluster: 'dev-modelling', sha256: recorded, mandators: 'tech-head', file: 'rates.dat' },
      size: content.length,
    });

  beforeAll(async () => {
    t = await makeRuntime({
      edit: (c) => {
        c.journal.registrars = ['tech-lead'];
      },
    });
  });
  afterAll(async () => t?.close());

  it('refuses people who are not registrars, and registers nothing', async () => {
    await upload(key, body, sha256);
    const refused = await t.run(`journal register ${key}`, 'U_DEMO');
    expect(refused.status).toBe('refused');
    expect(refused.title).toBe('only tech-lead may register journals by hand');
    expect(await t.runtime.journal.get(version)).toBeNull();
  });

  it('refuses an object whose bytes are not the ones the uploader hashed', async () => {
    const other = '2026.11.25-dev-modelling.5';
    const otherKey = `journals/dev-modelling/${other}/rates.dat`;
    await upload(otherKey, Buffer.from('rates,1\nrates,X\n'), sha256, other);
    const refused = await t.run(`journal register ${otherKey}`, 'U_LEAD');
    expect(refused.status).toBe('refused');
    expect(refused.title).toMatch(
      /read back as 16 bytes with sha256 [0-9a-f]{12}…, not the 16 bytes and [0-9a-f]{12}… recorded at upload: not registered/,
    );
    expect(await t.runtime.journal.get(other)).toBeNull();
  });

  it('registers a checked object, and the chain follows it', async () => {
    const done = await t.run(`journal register ${key}`, 'U_LEAD');
    expect(done.status).toBe('ok');
    expect(done.title).toBe(
      `Registered ${version} from ${key} (read back: ${body.length} bytes, sha256 ${sha256.slice(0, 12)}…)`,
    );
    expect(await t.runtime.journal.get(version)).toMatchObject({
      sha256,
      size: body.length,
      objectKey: key,
      cluster: 'dev-modelling',
    });
    expect((await t.runtime.kv.get('journal_version/dev'))?.value).toBe(version);
    expect((await t.run(`journal register ${key}`, 'U_LEAD')).title).toBe(`${key} is registered already as ${version}`);
    expect(
      (await t.runtime.store.auditLog({ limit: 20 })).filter((e) => e.action === 'journal.registered-by-hand'),
    ).toHaveLength(1);
  });

  it('refuses keys that are not journal objects and objects that do not exist', async () => {
    expect((await t.run('journal register journals/x', 'U_LEAD')).title).toMatch(/is not a journal object key/);
    expect(
      (await t.run(`journal register journals/dev-modelling/${version.replace('.4', '.9')}/rates.dat`, 'U_LEAD')).title,
    ).toMatch(/^no object /);
  });
});
