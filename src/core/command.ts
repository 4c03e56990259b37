/** What one chat command is: its grammar, help, and handler. See commands/index.ts for the list. */
import type { z } from 'zod';
import type { Reply } from './reply.js';
import type { Runtime } from './runtime.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  description: string;
}

export interface CommandContext {
  runtime: Runtime;
  user: string;
  source: 'slack' | 'cli' | 'http' | 'github';
  channel?: string;
  idempotencyKey?: string;
  /** The command line as typed, for the audit log. */
  text: string;
  /** Every command the dispatcher knows (the registry it was given), for help and advice. */
  commands: readonly CommandDefinition[];
}

export interface CommandDefinition<A = unknown> {
  /** One or two words: "promote", "journal promote". */
  name: string;
  summary: string;
  /** Grammar line, e.g. "promote <app> [<env>] [--version <tag|sha>]". */
  usage: string;
  /** Longer help, shown by `help <command>`. */
  help: string;
  /** Names of positional arguments in order; a trailing "..." collects the rest. */
  positionals: string[];
  flags: Record<string, FlagSpec>;
  /** Validates { ...positionals, ...flags } into the handler's arguments. */
  schema: z.ZodType<A>;
  /** Changes state: needs an idempotency key and is audited as such. */
  mutates: boolean;
  run(args: A, ctx: CommandContext): Promise<Reply>;
}

/** What carries the chat commands the composition root chose (a composed runtime does). */
export interface CommandRegistry {
  commands: readonly CommandDefinition<any>[];
}

export function defineCommand<A>(def: CommandDefinition<A>): CommandDefinition<A> {
  return def;
}
