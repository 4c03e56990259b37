/** Argument schemas shared by commands: every user-typed value is checked here first. */
import { z } from 'zod';
import type { AppConfig, EnvironmentConfig } from '../src/config/schema.js';
import type { CommandContext } from '../src/core/command.js';
import { didYouMean } from '../src/core/did-you-mean.js';
import { InputError, NotFoundError } from '../src/core/errors.js';
import { APP_NAME, ENV_NAME, OPERATION_ID, SHA, TAG_NAME, TICKET } from '../src/core/patterns.js';
import { findApp, findEnv } from '../src/core/runtime.js';

export const appArg = z.string().regex(APP_NAME, 'an app name: lowercase letters, digits and dashes');
export const envArg = z.string().regex(ENV_NAME, 'an environment name: lowercase letters, digits and dashes');
export const appOrAllArg = z.union([z.literal('*'), appArg], { error: 'an app name or *' });
/** Image apps: `sha256:…` or `tag@sha256:…` (a plain tag already passes as a tag name). */
const IMAGE_VERSION = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}@)?sha256:[0-9a-f]{64}$/;

export const versionArg = z
  .string()
  .refine(
    (v) => SHA.test(v) || TAG_NAME.test(v) || IMAGE_VERSION.test(v),
    'a deploy tag (e.g. qa/2026.11.23.1), a commit sha, or for image apps an image tag or digest (1.4.2, sha256:…)',
  );
export const tagArg = z.string().regex(TAG_NAME, 'a deploy tag such as prod/2026.11.23.1');
export const ticketArg = z.string().regex(TICKET, 'a change ticket such as CHG0001234');
export const operationArg = z.string().regex(OPERATION_ID, 'an operation id such as op_3k9x2m7q1z');
export const reasonArg = z.string().max(500, 'at most 500 characters');

/**
 * `--fresh` on the readers (`list`, `history`, `diff`): fetch every mirror first. Without it a
 * reader accepts a mirror fetched in the last 5 s or vouched for by the controller's poller,
 * from chat and the CLI alike (README, "Freshness").
 */
export const FRESH_FLAG = {
  fresh: { type: 'boolean', description: 'fetch every repository first instead of reading the mirrors as kept fresh' },
} as const;

/** How old a mirror a reader accepts: none with `--fresh`. */
export function readerMaxAgeMs(fresh: boolean | undefined): number {
  return fresh ? 0 : 5_000;
}

export function requireApp(ctx: CommandContext, name: string): AppConfig {
  const app = findApp(ctx.runtime.config, name);
  if (!app) {
    const names = ctx.runtime.config.apps.map((a) => a.name);
    throw new NotFoundError(
      `unknown app "${name}"${didYouMean(name, names)}; known apps: ${names.join(', ') || '(none configured)'}`,
    );
  }
  return app;
}

export function requireEnv(ctx: CommandContext, name: string): EnvironmentConfig {
  const env = findEnv(ctx.runtime.config, name);
  if (!env) {
    const names = ctx.runtime.config.environments.map((e) => e.name);
    throw new InputError(`unknown environment "${name}"${didYouMean(name, names)}; environments: ${names.join(', ')}`);
  }
  return env;
}
