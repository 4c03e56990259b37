/**
 * The process-level guard: bugs that escape every request handler (a throw in a timer, an
 * unhandled rejection, a throw in an event listener) and handlers that throw are logged and
 * answered, and the process keeps serving — checked on serve's HttpServer in a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answers, family, printFamilies } from './support/summary.js';

const SCRIPT = resolve(import.meta.dirname, 'support/guarded-server.ts');

describe('the process guard', () => {
  let child: ChildProcess;
  let base = '';
  const fam = family('bugs that escape a request handler');

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    const port = await new Promise<string>((done, fail) => {
      child.stdout!.on('data', (c: string) => {
        out += c;
        const m = /PORT (\d+)/.exec(out);
        if (m) done(m[1]!);
      });
      child.once('exit', (code) => fail(new Error(`exited ${code}`)));
    });
    base = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    printFamilies();
  });

  it('logs and survives throws in timers and listeners, unhandled rejections and throwing handlers', async () => {
    const cases: [string, number][] = [
      ['/timer-throw', 200],
      ['/unhandled-rejection', 200],
      ['/listener-throw', 200],
      ['/handler-throw', 500],
      ['/handler-reject', 500],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [path, expected] of cases) {
        const res = await fetch(`${base}${path}`).catch(() => null);
        const body = (await res?.text()) ?? '';
        await new Promise((r) => setTimeout(r, 20)); // let the escaped bug fire
        if (!(await answers(base)) || child.exitCode !== null) fam.crash(`${path} took the process down`);
        else
          fam.record(
            res?.status === expected && !body.includes('at '),
            `${path} → ${res?.status} ${body.slice(0, 80)}`,
          );
      }
    }
    expect(fam.crashed + fam.lost, fam.losses.join('\n')).toBe(0);
  });
});
