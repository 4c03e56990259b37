/**
 * bin/conveyor.js runs the compiled dist/ only while it is at least as new as every source
 * file; one edited source (or CONVEYOR_FROM_SOURCE=1) and it runs the TypeScript sources
 * through tsx, so a stale build never runs. Checked on a copy of the entry point with two tiny
 * `main`s that say which one ran.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN_FILES = ['conveyor.js', 'build-freshness.js'];

describe('bin/conveyor.js: dist when fresh, else the sources', () => {
  let dir: string;
  const run = (env: NodeJS.ProcessEnv = {}) =>
    execFileSync(process.execPath, [join(dir, 'bin', 'conveyor.js'), 'whoami'], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    }).trim();
  const at = (path: string, seconds: number) => utimesSync(join(dir, path), seconds, seconds);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-entry-'));
    for (const d of ['bin', 'src/core', 'commands', 'dist/src']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of BIN_FILES) copyFileSync(join(ROOT, 'bin', f), join(dir, 'bin', f));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const main = (who: string) =>
      `export async function main(args) { console.log('${who} ' + args.join(' ')); return 0; }\n`;
    writeFileSync(join(dir, 'src', 'cli.ts'), main('source').replace('(args)', '(args: string[])'));
    writeFileSync(join(dir, 'src', 'core', 'deep.ts'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'commands', 'list.ts'), 'export const y = 2;\n');
    writeFileSync(join(dir, 'dist', 'src', 'cli.js'), main('dist'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs dist/ when it is newer than every source', () => {
    for (const f of ['src/cli.ts', 'src/core/deep.ts', 'commands/list.ts']) at(f, 1_700_000_000);
    at('dist/src/cli.js', 1_700_000_100);
    expect(run()).toBe('dist whoami');
    expect(run({ CONVEYOR_FROM_SOURCE: '1' })).toBe('source whoami');
  });

  it('runs the sources when any of them, however deep, is newer than the build', () => {
    at('src/core/deep.ts', 1_700_000_200);
    expect(run()).toBe('source whoami');
    at('src/core/deep.ts', 1_700_000_000);
    at('commands/list.ts', 1_700_000_200);
    expect(run()).toBe('source whoami');
  });

  it('without tsx (a production install) and a stale build: a clear error, exit 1', () => {
    const bare = mkdtempSync(join(tmpdir(), 'conveyor-entry-bare-'));
    try {
      for (const d of ['bin', 'src', 'dist/src', 'node_modules']) mkdirSync(join(bare, d), { recursive: true });
      for (const f of BIN_FILES) copyFileSync(join(ROOT, 'bin', f), join(bare, 'bin', f));
      writeFileSync(join(bare, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(join(bare, 'dist', 'src', 'cli.js'), 'export async function main() { return 0; }\n');
      writeFileSync(join(bare, 'src', 'cli.ts'), 'export const newer = 1;\n');
      utimesSync(join(bare, 'dist', 'src', 'cli.js'), 1_700_000_000, 1_700_000_000);
      const result = spawnSync(process.execPath, [join(bare, 'bin', 'conveyor.js'), 'serve'], { encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        'dist/ is older than the sources and tsx (a development dependency) is not installed: run `npm run build`',
      );
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it("npm's prepare compiles only a stale build: build-freshness.js exits 0 for a current one, 1 otherwise", () => {
    const fresh = () => spawnSync(process.execPath, [join(dir, 'bin', 'build-freshness.js')]).status;
    for (const f of ['src/cli.ts', 'src/core/deep.ts', 'commands/list.ts']) at(f, 1_700_000_000);
    at('dist/src/cli.js', 1_700_000_100);
    expect(fresh()).toBe(0);
    at('src/core/deep.ts', 1_700_000_200);
    expect(fresh()).toBe(1);
    at('src/core/deep.ts', 1_700_000_000);
    const prepare = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.prepare as string;
    expect(prepare).toMatch(/^\(node bin\/build-freshness\.js \|\| tsc -p tsconfig\.build\.json \|\| /);
  });

  it('runs the sources when there is no build', () => {
    rmSync(join(dir, 'dist'), { recursive: true });
    expect(run()).toBe('source whoami');
  });
});
