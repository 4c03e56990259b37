import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { didYouMean } from '../src/core/did-you-mean.js';
import { InputError } from '../src/core/errors.js';
import { okReply } from '../src/core/reply.js';

export const help = defineCommand({
  name: 'help',
  summary: 'Show the commands, or the help of one command',
  usage: 'help [<command>]',
  help: 'With no argument lists every command. `help promote` explains one.',
  positionals: ['command...'],
  flags: {},
  schema: z.object({ command: z.string().max(40).optional() }),
  mutates: false,
  async run(args, ctx) {
    const COMMANDS = ctx.commands;
    if (!args.command) {
      return okReply(
        'Conveyor commands',
        [
          { type: 'table', header: ['command', 'what it does'], rows: COMMANDS.map((c) => [c.usage, c.summary]) },
          { type: 'text', text: 'Type `help <command>` for details.' },
        ],
        { ephemeral: true },
      );
    }
    const def = COMMANDS.find((c) => c.name === args.command);
    if (!def) {
      // A topic: every command whose name starts with it ("help journal").
      const family = COMMANDS.filter((c) => c.name.startsWith(`${args.command} `));
      if (family.length) {
        return okReply(
          `${args.command} commands`,
          [
            { type: 'table', header: ['command', 'what it does'], rows: family.map((c) => [c.usage, c.summary]) },
            { type: 'text', text: `Type \`help ${family[0]!.name}\` for details.` },
          ],
          { ephemeral: true },
        );
      }
      const names = [...new Set(COMMANDS.flatMap((c) => [c.name, c.name.split(' ')[0]!]))];
      throw new InputError(`no command "${args.command}"${didYouMean(args.command, names)}`, 'help [<command>]');
    }
    const flags = Object.entries(def.flags).map(
      ([n, f]) => `--${n}${f.type === 'string' ? ' <value>' : ''}  ${f.description}`,
    );
    return okReply(
      def.summary,
      [
        { type: 'code', text: `usage: ${def.usage}` },
        { type: 'text', text: def.help },
        ...(flags.length ? [{ type: 'list' as const, title: 'Options', items: flags }] : []),
      ],
      { ephemeral: true },
    );
  },
});
