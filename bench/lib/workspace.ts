/**
 * A sandbox workspace for in-process `startServer`: the sandbox's real bare repositories in a
 * temp folder and a configuration file beside them whose state is in-memory PGlite (a PGlite
 * folder's first open costs seconds that no scenario here means to measure).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';

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
  const sandbox = await ensureSandbox(root);
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
