/**
 * Which configuration file a CLI call uses and where a serve running it announces itself,
 * decided from paths alone (no parsing, no heavy imports): --config, ./conveyor.yaml, or the
 * sandbox under ./.conveyor/sandbox. `resolveConfig` (cli-config.ts) makes the same choice and
 * then reads, validates and (for the sandbox) creates what it names.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface LocatedConfig {
  /** Absolute path of the configuration file (the sandbox's, which may not exist yet). */
  file: string;
  /** Where a serve on this configuration writes serve.json. */
  serveInfoFile: string;
  sandbox: boolean;
}

export function sandboxDir(root: string): string {
  return join(root, '.conveyor', 'sandbox');
}

export function locateConfig(explicit: string | undefined, cwd: string): LocatedConfig {
  const own = resolve(cwd, explicit ?? 'conveyor.yaml');
  if (explicit || existsSync(own))
    return { file: own, serveInfoFile: join(cwd, '.conveyor', 'serve.json'), sandbox: false };
  const dir = sandboxDir(cwd);
  return { file: join(dir, 'conveyor.yaml'), serveInfoFile: join(dir, 'serve.json'), sandbox: true };
}
