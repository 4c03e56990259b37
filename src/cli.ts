/**
 * The `conveyor` command line: serve, run, check-config, journal-watch, journal-agent.
 * Exit codes: 0 success, 1 refused or failed, 2 usage error.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig } from './cli-config.js';
import { loadConfigFile } from './config/load.js';
import { ConfigError, isConveyorError } from './core/errors.js';
import { createLogger } from './core/log.js';
import { renderText } from './core/render-text.js';
import { exitCodeOf, type Reply } from './core/reply.js';

const USAGE = `usage: conveyor <command> [options]

  serve                               run the bot, the HTTP API and the controller (npm start)
  run "<command text>" --as <user>    run one chat command as Slack would; --json for the structured reply
  check-config                        validate the configuration and list every problem
  journal-watch --cluster <name> --dir <folder>
                                      export journals from a modelling cluster to the object store
  journal-agent --env <env> --import-cmd <argv…>
                                      import journals in an execution environment

options: --config <file> (default ./conveyor.yaml, else the built-in sandbox)`;

type Out = { out: (s: string) => void; err: (s: string) => void };
const stdio: Out = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) };

export async function main(argv: string[], io: Out = stdio, cwd = process.cwd()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, port: { type: 'string' } }, strict: true });
        const { serve } = await import('./server/serve.js');
        await serve({ configFile: values.config, port: values.port ? Number(values.port) : undefined, cwd, out: io.out });
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
      case 'journal-agent': {
        const { journalAgentMain } = await import('./journal/cli.js');
        return await journalAgentMain(rest, io, cwd);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command ? 0 : 2;
      default:
        io.err(`unknown command "${command}"\n${USAGE}`);
        return 2;
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
      io.err(`error: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

function checkConfig(args: string[], io: Out, cwd: string): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  const loaded = loadConfigFile(values.config, cwd);
  if (!loaded) {
    io.out('no conveyor.yaml here: Conveyor would run its built-in sandbox');
    return 0;
  }
  io.out(`${loaded.file}: valid (${loaded.config.environments.length} environments, ${loaded.config.apps.length} apps)`);
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
    io.err('usage: conveyor run "<command text>" --as <user> [--json] [--config F] [--idempotency-key K]');
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
      io.err(`error: the running serve refused the command: ${body.error ?? res.status}`);
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
