/** Finding a command in a registry (the list the composition root hands the dispatcher). */
import type { CommandDefinition } from './command.js';

/** The command the words start with: two-word names ("journal promote") first. */
export function findCommandIn(
  commands: readonly CommandDefinition<any>[],
  words: string[],
): { def: CommandDefinition<any>; rest: string[] } | null {
  const [first, second] = words.map((w) => w.toLowerCase());
  if (!first) return null;
  const two = commands.find((c) => c.name === `${first} ${second}`);
  if (two) return { def: two, rest: words.slice(2) };
  const one = commands.find((c) => c.name === first);
  return one ? { def: one, rest: words.slice(1) } : null;
}
