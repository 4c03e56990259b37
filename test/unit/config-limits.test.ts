/**
 * YAML that would exhaust memory or time is refused at load with one line, never a stack
 * trace: an alias bomb ("billion laughs") and an oversized file, through parseConfig and
 * through `conveyor check-config`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { MAX_CONFIG_ALIASES, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';

const bomb = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
].join('\n');

describe('configuration limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-config-limits-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an alias bomb with one line naming the limit', () => {
    let err: unknown;
    try {
      parseConfig(bomb);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    expect(text).toContain(`at most ${MAX_CONFIG_ALIASES} aliases`);
  });

  it('refuses a file over 1 MiB before parsing it', () => {
    expect(() => parseConfig(`# ${'x'.repeat(1024 * 1024 + 10)}\n`)).toThrow(/larger than/);
  });

  it('check-config prints one line per problem for the bomb, no stack trace, exit 1', async () => {
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, bomb);
    let out = '';
    const io = { out: (s: string) => (out += `${s}\n`), err: (s: string) => (out += `${s}\n`) };
    const code = await main(['check-config', '--config', file], io, dir);
    expect(code).not.toBe(0);
    expect(out).toContain('aliases');
    expect(out).not.toMatch(/\n\s+at /);
  });
});
