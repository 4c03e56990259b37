/**
 * The `conveyor` command line: serve, run, check-config, journal-watch, journal-agent.
 * Exit codes: 0 success, 1 refused or failed, 2 usage error. `--help`/`-h` on every command
 * prints its usage on stdout and exits 0; errors and usage after an error go to stderr.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig } from './cli-config.js';
import { didYouMean, RUN_USAGE, SUBCOMMAND_USAGE, USAGE } from './cli-usage.js';
import { loadConfigFile } from './config/load.js';
import { ConfigError, isConveyorError } from './core/errors.js';
import { createLogger } from './core/log.js';
import { renderText } from './core/render-text.js';
import { exitCodeOf, type Reply } from './core/reply.js';

type Out = { out: (s: string) => void; err: (s: string) => void };
const stdio: Out = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) };

/** The version in package.json (beside src/ and dist/). */
export function conveyorVersion(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    if (dirname(dir) === dir) return 'unknown';
  }
}

/** `--help`/`-h` among the options of a subcommand (journal-agent: before --import-cmd). */
function wantsHelp(command: string, args: string[]): boolean {
  const own = command === 'journal-agent' && args.includes('--import-cmd') ? args.slice(0, args.indexOf('--import-cmd')) : args;
  return own.includes('--help') || own.includes('-h');
}

export async function main(argv: string[], io: Out = stdio, cwd = process.cwd()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.err(USAGE);
    return 2;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    io.out(`conveyor ${conveyorVersion()}`);
    return 0;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.out(USAGE);
      return 0;
    }
    const usage = SUBCOMMAND_USAGE[topic];
    if (usage) {
      io.out(usage);
      return 0;
    }
    return unknownCommand(topic, io);
  }
  const usage = SUBCOMMAND_USAGE[command];
  if (!usage) return unknownCommand(command, io);
  if (wantsHelp(command, rest)) {
    io.out(usage);
    return 0;
  }
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, port: { type: 'string' } }, strict: true });
        const port = values.port === undefined ? undefined : Number(values.port);
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
          io.err(`error: --port: "${values.port}" is not a port number\n${usage}`);
          return 2;
        }
        const { serve } = await import('./server/serve.js');
        await serve({ configFile: values.config, port, cwd, out: io.out });
        return 0;
      }
      case 'run':
        return await runCommand(rest, io, cwd);
      case 'check-config':
        return checkConfig(rest, io, cwd);
      case 'journal-watch': {
        const { journalWatchMain } = await import('./journal/cli.js');
        return await journalWatchMain(rest, io, cwd);
      }
      default: {
        const { journalAgentMain } = await import('./journal/cli.js');
        return await journalAgentMain(rest, io, cwd);
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`error: ${err.message}${err.problems.length ? `\n  ${err.problems.join('\n  ')}` : ''}`);
      return 2;
    }
    if (isConveyorError(err)) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`error: ${(err as Error).message}\n${usage}`);
      return 2;
    }
    throw err;
  }
}

function unknownCommand(command: string, io: Out): number {
  const known = Object.keys(SUBCOMMAND_USAGE);
  const guess = didYouMean(command, known);
  io.err(`error: unknown command "${command.slice(0, 40)}"${guess ? `; did you mean "${guess}"?` : ''}\n${USAGE}`);
  return 2;
}

function checkConfig(args: string[], io: Out, cwd: string): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  const loaded = loadConfigFile(values.config, cwd);
  if (!loaded) {
    io.out('no conveyor.yaml here: Conveyor would run its built-in sandbox');
    return 0;
  }
  io.out(`${loaded.file}: valid (${loaded.config.environments.length} environments, ${loaded.config.apps.length} apps)`);
  const journal = loaded.config.journal;
  if (journal && !journal.botUrl) {
    io.out('note: journal.botUrl is not set: journal-watch and journal-agent with this file reach only a serve running on the same machine');
  }
  return 0;
}

async function runCommand(args: string[], io: Out, cwd: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { as: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' }, 'idempotency-key': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1 || !values.as) {
    io.err(`error: ${positionals.length !== 1 ? 'give the command text as one argument, in quotes' : '--as <user> is required'}\n${RUN_USAGE}`);
    return 2;
  }
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const resolved = await resolveConfig(values.config, cwd, log);
  const invocation = { text: positionals[0]!, user: values.as, idempotencyKey: values['idempotency-key'] };
  const { readServeInfo } = await import('./server/local-api.js');
  const info = resolved.config.state.url.startsWith('pglite:') ? readServeInfo(resolved.serveInfoFile) : null;
  let reply: Reply;
  if (info) {
    const res = await fetch(`http://127.0.0.1:${info.port}/api/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(invocation),
    });
    const body = (await res.json()) as Reply & { error?: string };
    if (!res.ok) {
      io.err(`error: the running serve refused the command: ${body.error ?? body.title ?? res.status}`);
      return 1;
    }
    reply = body;
  } else {
    mkdirSync(dirname(resolved.serveInfoFile), { recursive: true });
    const { compose } = await import('./compose.js');
    const { Dispatcher } = await import('./core/dispatcher.js');
    const { wireControllerless } = await import('./server/wiring.js');
    const runtime = await compose({ config: resolved.config, baseDir: resolved.baseDir, log, sandbox: resolved.sandbox });
    try {
      wireControllerless(runtime);
      // A start like any other: resume operations an earlier process left half-done.
      await runtime.engine.sweep();
      reply = await new Dispatcher(runtime).execute({ ...invocation, source: 'cli' });
    } finally {
      await runtime.engine.stop();
      await runtime.store.close();
    }
  }
  if (values.json) {
    io.out(JSON.stringify({ ok: reply.status === 'ok', status: reply.status, text: renderText(reply), title: reply.title, operation: reply.operation, data: reply.data }, null, 2));
  } else {
    io.out(renderText(reply));
  }
  return exitCodeOf(reply);
}
