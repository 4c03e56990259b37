/**
 * The pure path of a command line: tokenize → find the command → its schema. 'parsed' or
 * 'usage'; anything else thrown is a crash. Whatever a schema lets through must match the
 * strict pattern of its argument (ARG_PATTERNS), or this throws.
 */
import { findCommand } from '../../../commands/index.js';
import { parseCommandArgs } from '../../../src/core/dispatcher.js';
import { InputError } from '../../../src/core/errors.js';
import { tokenize } from '../../../src/core/tokenize.js';
import { ARG_PATTERNS } from './corpus.js';

export function parseLine(line: string): 'parsed' | 'usage' {
  let words: string[];
  try {
    words = tokenize(line.trim());
  } catch (err) {
    if (err instanceof InputError) return 'usage';
    throw err;
  }
  const found = findCommand(words);
  if (!found) return 'usage';
  let args: Record<string, unknown>;
  try {
    args = parseCommandArgs(found.def, found.rest) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof InputError) return 'usage';
    throw err;
  }
  for (const [name, value] of Object.entries(args)) {
    if (typeof value === 'boolean') continue;
    const check = ARG_PATTERNS[name];
    if (!check) throw new Error(`argument ${name} of ${found.def.name} has no pattern in the hostile suite`);
    if (typeof value !== 'string' || !check(value))
      throw new Error(`${found.def.name}: ${name}=${JSON.stringify(value)} got through`);
  }
  return 'parsed';
}
