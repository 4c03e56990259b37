/** Resolve which configuration a CLI call uses: --config, ./conveyor.yaml, or the sandbox. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile, parseConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { ensureSandbox } from './sandbox/sandbox.js';

export interface ResolvedConfig {
  config: Config;
  /** Folder the configuration's relative paths are resolved against (the file's folder). */
  baseDir: string;
  sandbox: boolean;
  /**
   * Where this process keeps its run files (serve.json, a journal agent's state): the sandbox
   * folder, else `.conveyor/` in the working folder — never beside a configuration file, which
   * may be read-only (a mounted ConfigMap).
   */
  runDir: string;
  /** Where a running serve announces itself (PGlite state is one process at a time). */
  serveInfoFile: string;
  file: string;
}

export async function resolveConfig(explicit: string | undefined, cwd: string, log?: Logger): Promise<ResolvedConfig> {
  const loaded = loadConfigFile(explicit, cwd);
  if (loaded?.file) {
    const runDir = join(cwd, '.conveyor');
    return {
      config: loaded.config,
      baseDir: dirname(loaded.file),
      sandbox: false,
      runDir,
      serveInfoFile: join(runDir, 'serve.json'),
      file: loaded.file,
    };
  }
  const sandbox = await ensureSandbox(cwd);
  if (sandbox.created) log?.info({ dir: sandbox.dir }, 'created the sandbox');
  const config = parseConfig(readFileSync(sandbox.configFile, 'utf8'), sandbox.configFile);
  return {
    config,
    baseDir: sandbox.dir,
    sandbox: true,
    runDir: sandbox.dir,
    serveInfoFile: join(sandbox.dir, 'serve.json'),
    file: sandbox.configFile,
  };
}
