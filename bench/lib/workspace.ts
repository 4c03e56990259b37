/**
 * A sandbox workspace for in-process `startServer`: a copy of the sandbox's real bare
 * repositories in a temp folder (made once per process) and a configuration file beside them
 * whose state is in-memory PGlite; `benchStore()` is a migrated in-memory PGlite loaded from the
 * run's seed (lib/pglite-seed.ts). Initialising and migrating PGlite costs seconds that no scenario
 * here means to measure (the footprint scenario measures a real first start).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { systemClock } from '../../src/core/ports.js';
import { wrapPglite } from '../../src/store/pglite-db.js';
import { StateStore } from '../../src/store/state-store.js';
import { copySandbox } from '../../test/support/runtime.js';
import { seededPglite } from './pglite-seed.js';

export interface BenchWorkspace {
  root: string;
  sandboxDir: string;
  configFile: string;
  remove(): void;
}

export async function makeWorkspace(
  prefix: string,
  edit?: (config: Record<string, unknown>) => void,
): Promise<BenchWorkspace> {
  const root = mkdtempSync(join(tmpdir(), `conveyor-bench-${prefix}-`));
  const sandbox = await copySandbox(root);
  const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, unknown>;
  raw.state = { url: 'pglite:memory' };
  edit?.(raw);
  const configFile = join(sandbox.dir, 'bench.yaml');
  writeFileSync(configFile, stringify(raw));
  return {
    root,
    sandboxDir: sandbox.dir,
    configFile,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A pino-compatible logger that drops everything. */
export async function silentLogger() {
  const { pino } = await import('pino');
  return pino({ level: 'silent' });
}

/**
 * A fresh migrated in-memory store, loaded from the run's seed: PGlite's default settings (as a
 * clone of the test template has them), or `startParams` (serve's own are `pgliteStartParams()`).
 */
export async function benchStore(startParams?: string[]): Promise<StateStore> {
  return StateStore.open(await wrapPglite(await seededPglite(startParams)), systemClock);
}
