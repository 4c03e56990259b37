/**
 * Build a real runtime for tests: the sandbox's demo repositories (real bare Git repos) in a
 * temp folder, PGlite in memory (or a given state URL), a recording notifier, an injectable
 * clock. Everything is real but Slack, which the LogNotifier stands in for.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pino } from 'pino';
import { LogNotifier } from '../../src/adapters/log-notifier.js';
import { type ComposedRuntime, type ComposeOptions, compose } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import type { Clock } from '../../src/core/ports.js';
import { renderText } from '../../src/core/render-text.js';
import type { Reply } from '../../src/core/reply.js';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { wireControllerless } from '../../src/server/wiring.js';
import { migrate } from '../../src/store/migrations.js';
import { liftoffForPglite, wrapPglite } from '../../src/store/pglite-db.js';
import { StateStore } from '../../src/store/state-store.js';

let template: Promise<PGlite> | null = null;
let sandboxTemplate: Promise<string> | null = null;
let storeSource: (() => Promise<PGlite>) | null = null;

/**
 * Make this process's stores with `make` (a fresh in-memory PGlite migrated to this version's
 * level) instead of clones of a template initialised here: the bench loads them from the
 * installation's migrated template (bench/lib/pglite-seed.ts).
 */
export function useStoreSource(make: () => Promise<PGlite>): void {
  storeSource = make;
}

/**
 * Make copySandbox copy `root` (a folder holding `.conveyor/sandbox`, once the promise settles)
 * instead of a sandbox made in this process: the bench makes one per run (bench/lib/sandbox-template.ts).
 */
export function useSandboxTemplate(root: Promise<string>): void {
  sandboxTemplate = root;
}

/** Fresh demo repositories: a copy of one sandbox made per test process. */
export async function copySandbox(dir: string): Promise<{ dir: string; configFile: string }> {
  sandboxTemplate ??= (async () => {
    const root = mkdtempSync(join(tmpdir(), 'conveyor-sandbox-template-'));
    await ensureSandbox(root);
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    return root;
  })();
  cpSync(join(await sandboxTemplate, '.conveyor'), join(dir, '.conveyor'), { recursive: true });
  const sandboxDir = join(dir, '.conveyor', 'sandbox');
  return { dir: sandboxDir, configFile: join(sandboxDir, 'conveyor.yaml') };
}

/**
 * A fresh in-memory store: a clone of one migrated PGlite per test process (opening and
 * migrating PGlite costs seconds; a clone costs little).
 */
export async function clonedStore(clock: Clock): Promise<StateStore> {
  if (storeSource) return StateStore.open(await wrapPglite(await storeSource()), clock);
  template ??= (async () => {
    liftoffForPglite(); // compiled as the product compiles it
    const pg = new PGlite();
    await migrate(await wrapPglite(pg));
    return pg;
  })();
  const copy = (await (await template).clone()) as PGlite;
  return StateStore.open(await wrapPglite(copy), clock);
}

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
  runtime: ComposedRuntime;
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
 * @param worker keep the sandbox's image app `worker` (left out by default: the tests of the
 *   branch apps count and list `api` and `web`; test/integration/sandbox-worker.test.ts runs it)
 */
export async function makeRuntime(
  options: {
    edit?: (config: Record<string, any>) => void;
    stateUrl?: string;
    extra?: Partial<ComposeOptions>;
    worker?: boolean;
  } = {},
): Promise<TestRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-test-'));
  const sandbox = await copySandbox(dir);
  const raw = (await import('yaml')).parse(readFileSync(sandbox.configFile, 'utf8'));
  raw.state = { url: options.stateUrl ?? 'pglite:memory' };
  if (!options.worker) raw.apps = raw.apps.filter((a: { name: string }) => a.name !== 'worker');
  options.edit?.(raw);
  const config = parseConfig((await import('yaml')).stringify(raw));
  const clock = new TestClock();
  const notifier = new LogNotifier(null);
  const store = options.stateUrl ? undefined : await clonedStore(clock);
  const runtime = await compose({
    state: store,
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
