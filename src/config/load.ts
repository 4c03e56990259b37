/**
 * Read and validate conveyor.yaml. Every problem is reported with the path of the field
 * and what was expected; nothing half-valid is ever returned.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { type Config, configSchema } from './schema.js';

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or null for the built-in sandbox. */
  file: string | null;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * One line per problem. A value that matches none of a union's shapes (`journal.objects` is a
 * folder or a bucket) is explained by the shape it came closest to — the branch whose problems
 * reach deepest, then the one with the fewest — rather than zod's bare "Invalid input".
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const depth = (branch: readonly z.core.$ZodIssue[]) => Math.max(0, ...branch.map((i) => i.path.length));
      const closest = [...issue.errors].sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0]!;
      if (closest.length > 0) return formatIssues(closest, path);
    }
    return [`${formatPath(path)}: ${issue.message}`];
  });
}

/** A configuration file is a few kilobytes; anything near this is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Aliases (`*name`) a configuration may use; a "billion laughs" document needs thousands. */
export const MAX_CONFIG_ALIASES = 100;

/** Parse and validate configuration text; throws ConfigError listing every problem. */
export function parseConfig(text: string, source = 'conveyor.yaml'): Config {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new ConfigError(`${source} is larger than ${MAX_CONFIG_BYTES} bytes; is it the right file?`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`);
    throw new ConfigError(`${source} is not valid YAML`, problems);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (err) {
    // The yaml package throws (not reports) an alias expansion over the limit: one line, no stack.
    const line = (err as Error).message.split('\n')[0]!;
    throw new ConfigError(`${source} is not valid YAML`, [
      `YAML: ${line} (at most ${MAX_CONFIG_ALIASES} aliases are expanded)`,
    ]);
  }
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) {
    const problems = formatIssues(result.error.issues);
    throw new ConfigError(`${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}`, problems);
  }
  return result.data;
}

/**
 * Load the configuration: an explicit --config file, else ./conveyor.yaml, else null
 * (the caller then runs the sandbox).
 */
export function loadConfigFile(explicit: string | undefined, cwd = process.cwd()): LoadedConfig | null {
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, 'conveyor.yaml');
  if (!existsSync(file)) {
    if (explicit) throw new ConfigError(`configuration file not found: ${explicit}`);
    return null;
  }
  return { config: parseConfig(readFileSync(file, 'utf8'), explicit ?? 'conveyor.yaml'), file };
}
