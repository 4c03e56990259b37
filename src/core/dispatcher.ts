/**
 * The one door every command goes through, whatever the transport: tokenize, find the
 * command, parse its grammar, replay idempotent answers, run, audit, and turn every error
 * into one short line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { CommandContext, CommandDefinition, CommandRegistry } from './command.js';
import { findCommandIn } from './command-registry.js';
import type { CommandInvocation, CommandService } from './command-service.js';
import { didYouMean } from './did-you-mean.js';
import { InputError, isConveyorError, NotFoundError } from './errors.js';
import { gateStatus } from './gate-status.js';
import { renderOperation } from './operation-view.js';
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
    const message = (err as Error).message
      .split('\n')[0]!
      .replace(/^Option '(.*?)'.*argument missing$/, "option '$1' needs a value");
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
    const message =
      issue.code === 'invalid_type' && values[field] === undefined
        ? `missing <${field}>`
        : `${field ? `${field}: ` : ''}${issue.message}`;
    throw new InputError(message, def.usage);
  }
  return result.data;
}

export function errorReply(err: unknown, runtime: Pick<Runtime, 'log'>, def?: CommandDefinition<unknown>): Reply {
  if (isConveyorError(err)) {
    const usage =
      err instanceof InputError ? (err.usage ?? def?.usage) : err instanceof NotFoundError ? def?.usage : undefined;
    const blocks: Reply['blocks'] = usage ? [{ type: 'code', text: `usage: ${usage}` }] : [];
    if (err.suggestion) blocks.push({ type: 'code', text: err.suggestion });
    const status = err instanceof InputError ? 'usage' : err.code === 'UPSTREAM' ? 'error' : 'refused';
    return {
      status,
      title: err.message,
      blocks,
      ephemeral: true,
      ...(err.suggestion ? { data: { suggestions: [err.suggestion] } } : {}),
    };
  }
  const ref = `err_${randomBytes(4).toString('hex')}`;
  runtime.log.error({ err, ref }, 'command failed');
  return {
    status: 'error',
    title: `Something went wrong (ref ${ref}); the details are in Conveyor's log.`,
    blocks: [],
    ephemeral: true,
  };
}

/** This process, as the claimant of request keys: host, pid and a per-start nonce. */
export const PROCESS_WORKER = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** What binds an idempotency key to its request: the same key with another command is refused. */
export function requestFingerprint(inv: Pick<CommandInvocation, 'user' | 'text'>): string {
  return createHash('sha256').update(`${inv.user}\n${inv.text.trim()}`).digest('hex');
}

/** The reply code (in `data`) of a key reused for another request; the HTTP API answers 409. */
export const KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED';

function keyReusedReply(): Reply {
  return {
    status: 'refused',
    title: 'This idempotency key was already used for a different command; use a new key for a new command.',
    blocks: [],
    ephemeral: true,
    data: { code: KEY_REUSED },
  };
}

/** A claim older than this, by a process that is not this one, is taken to be abandoned (PostgreSQL). */
const ABANDONED_AFTER_MS = 10 * 60_000;

export class Dispatcher<R extends Runtime = Runtime> implements CommandService {
  private readonly commands: readonly CommandDefinition<any>[];

  /**
   * @param commands the command registry (commands/index.ts), handed in by the composition
   *   root; by default the one a composed runtime carries
   */
  constructor(
    private readonly runtime: R,
    commands: readonly CommandDefinition<any>[] | undefined = (runtime as Partial<CommandRegistry>).commands,
  ) {
    if (!commands) throw new Error('the dispatcher needs the command registry');
    this.commands = commands;
  }

  /** The state store the commands run against (the Slack inbox shares it). */
  get store(): R['store'] {
    return this.runtime.store;
  }

  async execute(inv: CommandInvocation): Promise<Reply> {
    const { store } = this.runtime;
    let def: CommandDefinition<unknown> | undefined;
    let reply: Reply;
    let claimedKey: string | undefined;
    const requestKey = inv.idempotencyKey ? `${inv.source}:${inv.idempotencyKey}` : undefined;
    try {
      if (!USER_ID.test(inv.user)) throw new InputError('the caller is not a valid user id');
      const words = tokenize(inv.text.trim());
      const found = findCommandIn(this.commands, words);
      if (!found) {
        const name = words[0] ?? '';
        const family = this.commands.filter((c) => c.name.startsWith(`${name.toLowerCase()} `));
        if (name && family.length) {
          // "token foo", "journal": one line naming the subcommands, with a guess when close.
          const subs = family.map((c) => c.name.split(' ')[1]!);
          const sub = (words[1] ?? '').slice(0, 40);
          throw new InputError(
            sub
              ? `unknown ${name.toLowerCase()} subcommand "${sub}"${didYouMean(sub, subs)}; try "help ${name.toLowerCase()}"`
              : `${name.toLowerCase()} needs a subcommand: ${subs.join(', ')}`,
            family.map((c) => c.usage).join('\n       '),
          );
        }
        throw new InputError(
          name
            ? `unknown command "${name.slice(0, 40)}"${didYouMean(name.slice(0, 40), [...new Set(this.commands.map((c) => c.name.split(' ')[0]!))])}; try "help"`
            : 'no command given; try "help"',
          this.commands.map((c) => c.usage).join('\n       '),
        );
      }
      def = found.def;
      const args = parseCommandArgs(def, found.rest);
      if (def.mutates && requestKey) {
        const previous = await this.replay(requestKey, requestFingerprint(inv));
        if (previous && !('takenOver' in previous)) return previous;
        claimedKey = requestKey;
        if (previous) {
          // A dead process's request: its operation answers, recorded now like any answer.
          reply = previous.takenOver;
          return await this.finish(inv, def, reply, claimedKey, requestKey);
        }
      } else if (requestKey && inv.source !== 'slack') {
        // A read is run again, but a key taken by another command is still refused (Slack's
        // keys are its own per-interaction ids: no other command can come with one).
        const claim = await store.requestKeyFingerprint(requestKey);
        if (claim && claim !== requestFingerprint(inv)) return keyReusedReply();
      }
      const ctx: CommandContext = {
        runtime: this.runtime,
        user: inv.user,
        source: inv.source,
        channel: inv.channel,
        idempotencyKey: claimedKey,
        text: inv.text,
        commands: this.commands,
      };
      reply = await def.run(args, ctx);
      // In Slack the reply itself becomes the operation's message, outside the notifier: the
      // other sinks (email, Teams, GitHub deployments) hear of the state it shows from here.
      if (inv.source === 'slack' && reply.operation && reply.status === 'ok' && !reply.ephemeral)
        if (!reply.operation.followUp && !reply.replayed)
          await this.runtime.notifier
            ?.observe?.({ channel: inv.channel ?? '', text: reply.title, reply })
            .catch((err: unknown) =>
              this.runtime.log.warn({ err: (err as Error).message }, 'a notification beyond Slack failed'),
            );
    } catch (err) {
      reply = errorReply(err, this.runtime, def);
    }
    return this.finish(inv, def, reply, claimedKey, requestKey);
  }

  /** Count, keep the answer of a claimed key and log the command (once per request key). */
  private async finish(
    inv: CommandInvocation,
    def: CommandDefinition<unknown> | undefined,
    reply: Reply,
    claimedKey: string | undefined,
    requestKey: string | undefined,
  ): Promise<Reply> {
    const { store } = this.runtime;
    this.runtime.metrics?.commands.inc({ command: def?.name ?? 'unknown', outcome: reply.status });
    this.runtime.log.info(
      {
        command: def?.name ?? 'unknown',
        user: inv.user.slice(0, 64),
        source: inv.source,
        outcome: reply.status,
        operation: reply.operation?.id,
      },
      'command',
    );
    const entry = {
      actor: inv.user.slice(0, 64),
      source: inv.source,
      text: inv.text.replace(/cvy_[A-Za-z0-9_-]{8,}/g, 'cvy_[redacted]'),
      outcome: reply.status,
      detail: reply.title.slice(0, 500),
    };
    // A reply that shows a secret once is kept as its stand-in (a replay never shows it again).
    const { storedAs, ...shown } = reply;
    reply = shown;
    if (claimedKey) await store.finishRequest(claimedKey, storedAs ?? reply, entry);
    else {
      const keyed =
        requestKey && reply.data && (reply.data as { code?: string }).code === KEY_REUSED ? undefined : requestKey;
      await store
        .logCommand({ ...entry, requestKey: keyed })
        .catch((err) => this.runtime.log.warn({ err }, 'could not record the command'));
    }
    return reply;
  }

  /**
   * The first answer for a key seen before (waiting briefly while the first is still running);
   * a refusal when the key came with another request; null when this call runs it.
   * A claim left by a process that died before answering is taken over: its operation, if it
   * created one, answers; otherwise the command runs now.
   */
  private async replay(key: string, fingerprint: string): Promise<Reply | { takenOver: Reply } | null> {
    const { store } = this.runtime;
    for (let i = 0; i < 100; i++) {
      const claim = await store.claimRequestKey(key, fingerprint, PROCESS_WORKER);
      if (claim.claimed) return null;
      if (claim.fingerprint && claim.fingerprint !== fingerprint) return keyReusedReply();
      if (claim.reply) return { ...(claim.reply as Reply), replayed: true };
      if (
        this.abandoned(claim.claimedBy, claim.at) &&
        (await store.takeOverKey(key, PROCESS_WORKER, claim.claimedBy))
      ) {
        const op = await store.operationByKey(key);
        if (!op) return null;
        return { takenOver: renderOperation(op, await gateStatus(this.runtime, op)) };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      status: 'refused',
      title: 'This request is already being processed.',
      blocks: [],
      ephemeral: true,
      replayed: true,
    };
  }

  /** A claim no live process will answer: another process's on a PGlite folder (one process at a time), or a stale one. */
  private abandoned(claimedBy: string | null, at: string): boolean {
    if (claimedBy === PROCESS_WORKER) return false;
    if (this.runtime.store.singleProcess) return true;
    if (claimedBy) {
      const [host, pid] = claimedBy.split(':');
      if (host === hostname() && pid && !processAlive(Number(pid))) return true;
    }
    return Date.now() - Date.parse(at) > ABANDONED_AFTER_MS;
  }

  async attachMessage(operationId: string, ref: MessageRef, shown?: string): Promise<void> {
    const { store, engine } = this.runtime;
    await store.attachMessage(operationId, ref);
    if (shown === undefined) return;
    // The reply was rendered before the message existed: a transition in between was marked
    // published with nothing to edit. Written the message first, now read the state (the engine
    // writes the state first, then reads the message), so one of the two always shows the last.
    const op = await store.findOperation(operationId);
    if (op && op.state !== shown) {
      await store.saveProgress(op.id, { published: null });
      const again = await store.findOperation(op.id);
      if (again) await engine.publish(again);
    }
  }

  async matrix(viewer: string): Promise<Reply> {
    return this.execute({ text: 'list', user: viewer, source: 'slack' });
  }

  async pendingFor(viewer: string): Promise<Reply> {
    const { pendingApprovalsFor } = await import('./approval-gate.js');
    return pendingApprovalsFor(this.runtime, viewer);
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
