/**
 * The command line's conventions, on the real `bin/conveyor.js` as a child process: `--help`/`-h`
 * on every command prints its usage on stdout and exits 0; `--version`; a bare `conveyor`, an
 * unknown command and a usage error print on stderr and exit 2; a mistyped command gets a
 * "did you mean". None of these needs a configuration or starts anything.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { didYouMean } from '../../src/cli-usage.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/conveyor.js');
const dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-conventions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conveyor(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: dir, timeout: 60_000, env: { ...process.env, LOG_LEVEL: 'silent' } },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

const SUBCOMMANDS = ['serve', 'run', 'check-config', 'journal-watch', 'journal-agent'];

describe('conveyor command-line conventions', () => {
  it('<command> --help and -h, for every command: its usage on stdout, exit 0, nothing started', async () => {
    const cases = SUBCOMMANDS.flatMap(
      (c) =>
        [
          [c, '--help'],
          [c, '-h'],
        ] as const,
    );
    // Child processes, a few at a time.
    const results: { code: number; stdout: string; stderr: string }[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...(await Promise.all(cases.slice(i, i + 4).map(([c, flag]) => conveyor(c, flag)))));
    }
    cases.forEach(([command, flag], i) => {
      const { code, stdout, stderr } = results[i]!;
      expect(stderr, `${command} ${flag}`).toBe('');
      expect(code, `${command} ${flag}`).toBe(0);
      expect(stdout, `${command} ${flag}`).toMatch(new RegExp(`^usage: conveyor ${command}\\b`));
    });
  });

  it('--help after other options, and help <command>, print the same usage', async () => {
    const after = await conveyor('journal-agent', '--env', 'qa', '--help');
    const topic = await conveyor('help', 'journal-agent');
    expect(after.code).toBe(0);
    expect(topic.code).toBe(0);
    expect(after.stdout).toBe(topic.stdout);
    // After --import-cmd, --help belongs to the import command: here it is a usage error (no --env).
    const belongs = await conveyor('journal-agent', '--import-cmd', 'import.sh', '--help');
    expect(belongs.code).toBe(2);
    expect(belongs.stdout).toBe('');
  });

  it('conveyor --help / -h / help: the overview on stdout, exit 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const { code, stdout, stderr } = await conveyor(flag);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      for (const c of SUBCOMMANDS) expect(stdout).toContain(c);
    }
  });

  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const { code, stdout } = await conveyor(flag);
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(`conveyor ${version}`);
    }
  });

  it('a bare conveyor prints the usage on stderr and exits 2', async () => {
    const { code, stdout, stderr } = await conveyor();
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^usage: conveyor <command>/);
  });

  it('a mistyped command: error with "did you mean" and the usage on stderr, exit 2', async () => {
    const typos = [
      ['serv', 'serve'],
      ['jounral-agent', 'journal-agent'],
      ['check', 'check-config'],
      ['rnu', 'run'],
    ] as const;
    const answers = await Promise.all(typos.map(([typed]) => conveyor(typed)));
    for (const [i, [typed, meant]] of typos.entries()) {
      const { code, stdout, stderr } = answers[i]!;
      expect(code, typed).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.split('\n')[0]).toBe(`error: unknown command "${typed}"; did you mean "${meant}"?`);
      expect(stderr).toContain('usage: conveyor <command>');
    }
    const far = await conveyor('deploy-everything');
    expect(far.stderr.split('\n')[0]).toBe('error: unknown command "deploy-everything"');
  });

  it('usage errors go to stderr with the usage of that command, exit 2', async () => {
    const missingAs = await conveyor('run', 'list');
    expect(missingAs.code).toBe(2);
    expect(missingAs.stdout).toBe('');
    expect(missingAs.stderr).toMatch(/^error: --as <user> is required\nusage: conveyor run /);
    const unknownFlag = await conveyor('serve', '--prot', '3000');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("Unknown option '--prot'");
    expect(unknownFlag.stderr).toContain('usage: conveyor serve');
    const badPort = await conveyor('serve', '--port', 'eighty');
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/^error: --port: "eighty" is not a port number/);
    const watch = await conveyor('journal-watch', '--cluster', 'dev-modelling');
    expect(watch.code).toBe(2);
    expect(watch.stderr).toContain('usage: conveyor journal-watch');
  });

  it('did you mean: close typos only, never a guess between two', () => {
    expect(didYouMean('promte', ['promote', 'rollback'])).toBe('promote');
    expect(didYouMean('jrnl', ['journal-watch', 'journal-agent'])).toBeUndefined();
    expect(didYouMean('xyz', ['serve', 'run'])).toBeUndefined();
  });
});
