/**
 * The one door every command goes through, whatever the transport: tokenize, find the
 * command, parse its grammar, replay idempotent answers, run, audit, and turn every error
 * into one short line.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { COMMANDS, findCommand } from '../../commands/index.js';
import type { CommandContext, CommandDefinition } from './command.js';
import type { CommandInvocation, CommandService } from './command-service.js';
import { InputError, isConveyorError, NotFoundError } from './errors.js';
import { USER_ID } from './patterns.js';
import type { MessageRef } from './ports.js';
import type { Reply } from './reply.js';
import type { Runtime } from './runtime.js';
import { tokenize } from './tokenize.js';

export function usageBlock(def: CommandDefinition<unknown>): Reply['blocks'][number] {
  return { type: 'code', text: `usage: ${def.usage}` };
}

/** A user-typed value echoed in a refusal: never more than `max` characters of it. */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Parse words (after the command name) into the command's validated arguments. */
export function parseCommandArgs<A>(def: CommandDefinition<A>, words: string[]): A {
  const options = Object.fromEntries(Object.entries(def.flags).map(([name, spec]) => [name, { type: spec.type }]));
  // "--" ends the options only where free text follows (a reason); elsewhere it would vanish and
  // change the command's meaning ("promote api --" promoting to the next stage).
  if (words.includes('--') && !def.positionals.at(-1)?.endsWith('...')) {
    throw new InputError('unexpected argument "--"', def.usage);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: words, options, strict: true, allowPositionals: true });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!.replace(/^Option '(.*?)'.*argument missing$/, "option '$1' needs a value");
    throw new InputError(clip(message.replace(/\. To specify a positional.*$/, ''), 160), def.usage);
  }
  const names = def.positionals;
  const values: Record<string, unknown> = { ...parsed.values };
  const rest = names.at(-1)?.endsWith('...');
  const fixed = rest ? names.slice(0, -1) : names;
  if (!rest && parsed.positionals.length > names.length) {
    throw new InputError(`unexpected argument "${clip(parsed.positionals[names.length]!, 40)}"`, def.usage);
  }
  fixed.forEach((name, i) => {
    if (parsed.positionals[i] !== undefined) values[name.replace(/\?$/, '')] = parsed.positionals[i];
  });
  if (rest) {
    const extra = parsed.positionals.slice(fixed.length);
    if (extra.length) values[names.at(-1)!.replace(/\.\.\.$/, '')] = extra.join(' ');
  }
  const result = def.schema.safeParse(values);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.');
    const message = issue.code === 'invalid_type' && values[field] === undefined ? `missing <${field}>` : `${field ? `${field}: ` : ''}${issue.message}`;
    throw new InputError(message, def.usage);
  }
  return result.data;
}

export function errorReply(err: unknown, runtime: Pick<Runtime, 'log'>, def?: CommandDefinition<unknown>): Reply {
  if (isConveyorError(err)) {
    const usage = err instanceof InputError ? (err.usage ?? def?.usage) : err instanceof NotFoundError ? def?.usage : undefined;
    const blocks: Reply['blocks'] = usage ? [{ type: 'code', text: `usage: ${usage}` }] : [];
    const status = err instanceof InputError ? 'usage' : err.code === 'UPSTREAM' ? 'error' : 'refused';
    return { status, title: err.message, blocks, ephemeral: true };
  }
  const ref = `err_${randomBytes(4).toString('hex')}`;
  runtime.log.error({ err, ref }, 'command failed');
  return { status: 'error', title: `Something went wrong (ref ${ref}); the details are in Conveyor's log.`, blocks: [], ephemeral: true };
}

export class Dispatcher implements CommandService {
  constructor(private readonly runtime: Runtime) {}

  async execute(inv: CommandInvocation): Promise<Reply> {
    const { store } = this.runtime;
    let def: CommandDefinition<unknown> | undefined;
    let reply: Reply;
    let claimedKey: string | undefined;
    try {
      if (!USER_ID.test(inv.user)) throw new InputError('the caller is not a valid user id');
      const words = tokenize(inv.text.trim());
      const found = findCommand(words);
      if (!found) {
        const name = words[0] ?? '';
        throw new InputError(
          name ? `unknown command "${name.slice(0, 40)}"; try "help"` : 'no command given; try "help"',
          COMMANDS.map((c) => c.usage).join('\n       '),
        );
      }
      def = found.def;
      const args = parseCommandArgs(def, found.rest);
      if (def.mutates && inv.idempotencyKey) {
        const key = `${inv.source}:${inv.idempotencyKey}`;
        const previous = await this.replay(key);
        if (previous) return previous;
        claimedKey = key;
      }
      const ctx: CommandContext = { runtime: this.runtime, user: inv.user, source: inv.source, channel: inv.channel, idempotencyKey: claimedKey, text: inv.text };
      reply = await def.run(args, ctx);
    } catch (err) {
      reply = errorReply(err, this.runtime, def);
    }
    if (claimedKey) await store.saveKeyReply(claimedKey, reply);
    this.runtime.metrics?.commands.inc({ command: def?.name ?? 'unknown', outcome: reply.status });
    await store
      .logCommand({ actor: inv.user.slice(0, 64), source: inv.source, text: inv.text, outcome: reply.status, detail: reply.title.slice(0, 500) })
      .catch((err) => this.runtime.log.warn({ err }, 'could not record the command'));
    return reply;
  }

  /** The first answer for a key seen before; waits briefly while the first is still running. */
  private async replay(key: string): Promise<Reply | null> {
    const { store } = this.runtime;
    if (await store.claimKey(key)) return null;
    for (let i = 0; i < 100; i++) {
      const reply = (await store.keyReply(key)) as Reply | undefined;
      if (reply) return { ...reply, replayed: true };
      await new Promise((r) => setTimeout(r, 100));
    }
    return { status: 'refused', title: 'This request is already being processed.', blocks: [], ephemeral: true, replayed: true };
  }

  async attachMessage(operationId: string, ref: MessageRef): Promise<void> {
    await this.runtime.store.attachMessage(operationId, ref);
  }

  async matrix(viewer: string): Promise<Reply> {
    return this.execute({ text: 'list', user: viewer, source: 'slack' });
  }

  async pendingFor(viewer: string): Promise<Reply> {
    const { pendingApprovalsFor } = await import('./approval-gate.js');
    return pendingApprovalsFor(this.runtime, viewer);
  }
}
