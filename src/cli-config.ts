/** Resolve which configuration a CLI call uses: --config, ./conveyor.yaml, or the sandbox. */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { parseConfig } from './config/load.js';
import { readFileSync } from 'node:fs';
import { ensureSandbox } from './sandbox/sandbox.js';

export interface ResolvedConfig {
  config: Config;
  baseDir: string;
  sandbox: boolean;
  /** Where a running serve announces itself (PGlite state is one process at a time). */
  serveInfoFile: string;
  file: string;
}

export async function resolveConfig(explicit: string | undefined, cwd: string, log?: Logger): Promise<ResolvedConfig> {
  const loaded = loadConfigFile(explicit, cwd);
  if (loaded?.file) {
    const baseDir = dirname(loaded.file);
    return { config: loaded.config, baseDir, sandbox: false, serveInfoFile: join(baseDir, '.conveyor', 'serve.json'), file: loaded.file };
  }
  const sandbox = await ensureSandbox(cwd);
  if (sandbox.created) log?.info({ dir: sandbox.dir }, 'created the sandbox');
  const config = parseConfig(readFileSync(sandbox.configFile, 'utf8'), sandbox.configFile);
  return { config, baseDir: sandbox.dir, sandbox: true, serveInfoFile: join(sandbox.dir, 'serve.json'), file: sandbox.configFile };
}
