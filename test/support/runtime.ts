/**
 * Build a real runtime for tests: the sandbox's demo repositories (real bare Git repos) in a
 * temp folder, PGlite in memory (or a given state URL), a recording notifier, an injectable
 * clock. Everything is real but Slack, which the LogNotifier stands in for.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LogNotifier } from '../../src/adapters/log-notifier.js';
import { compose, type ComposeOptions } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import type { Clock } from '../../src/core/ports.js';
import type { Reply } from '../../src/core/reply.js';
import { renderText } from '../../src/core/render-text.js';
import type { Runtime } from '../../src/core/runtime.js';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { wireControllerless } from '../../src/server/wiring.js';

export class TestClock implements Clock {
  constructor(private t = Date.now()) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface TestRuntime {
  runtime: Runtime;
  dir: string;
  sandboxDir: string;
  config: Config;
  notifier: LogNotifier;
  clock: TestClock;
  /** Run a chat command as `user`; returns the reply and its text. */
  run(text: string, user?: string, key?: string): Promise<Reply & { text: string }>;
  /** Path of an app's bare repository (the "remote"). */
  repo(app: string): string;
  close(): Promise<void>;
}

/**
 * @param edit change the sandbox configuration before use (e.g. add freezes)
 */
export async function makeRuntime(
  options: { edit?: (config: Record<string, any>) => void; stateUrl?: string; extra?: Partial<ComposeOptions> } = {},
): Promise<TestRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-test-'));
  const sandbox = await ensureSandbox(dir);
  const raw = (await import('yaml')).parse(readFileSync(sandbox.configFile, 'utf8'));
  raw.state = { url: options.stateUrl ?? 'pglite:memory' };
  options.edit?.(raw);
  const config = parseConfig((await import('yaml')).stringify(raw));
  const clock = new TestClock();
  const notifier = new LogNotifier(null);
  const runtime = await compose({
    config,
    baseDir: sandbox.dir,
    log: pino({ level: 'silent' }),
    clock,
    notifier,
    sandbox: true,
    env: {},
    ...options.extra,
  });
  wireControllerless(runtime);
  const dispatcher = new Dispatcher(runtime);
  return {
    runtime,
    dir,
    sandboxDir: sandbox.dir,
    config,
    notifier,
    clock,
    async run(text, user = 'U_DEMO', key) {
      const reply = await dispatcher.execute({ text, user, source: 'cli', idempotencyKey: key });
      return { ...reply, text: renderText(reply) };
    },
    repo: (app) => join(sandbox.dir, 'repos', `${app}.git`),
    async close() {
      await runtime.engine.stop();
      await runtime.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
