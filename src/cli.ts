/**
 * The `conveyor` command line: serve, run, check-config, journal-watch, journal-agent, verify-worker.
 * Exit codes: 0 success, 1 refused or failed, 2 usage error. `--help`/`-h` on every command
 * prints its usage on stdout and exits 0; errors and usage after an error go to stderr.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { locateConfig } from './cli-locate.js';
import { didYouMean, RUN_USAGE, SUBCOMMAND_USAGE, USAGE } from './cli-usage.js';
import { ConfigError, isConveyorError } from './core/errors.js';
import { TOKEN_SHAPE } from './core/ports/api-tokens.js';
import { renderText } from './core/render-text.js';
import { exitCodeOf, type Reply } from './core/reply.js';
import { demoUsers, unknownDemoUser } from './sandbox/demo-users.js';
import { readServeInfo, type ServeInfo } from './server/serve-info.js';

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
  const own =
    command === 'journal-agent' && args.includes('--import-cmd') ? args.slice(0, args.indexOf('--import-cmd')) : args;
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
        const { values } = parseArgs({
          args: rest,
          options: { config: { type: 'string' }, port: { type: 'string' } },
          strict: true,
        });
        const port = values.port === undefined ? undefined : Number(values.port);
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
          io.err(`error: --port: "${values.port}" is not a port number\n${usage}`);
          return 2;
        }
        (await import('./server/start-memory.js')).startingUp(true);
        const { serve } = await import('./server/serve.js');
        await serve({ configFile: values.config, port, cwd, out: io.out });
        return 0;
      }
      case 'run':
        return await runCommand(rest, io, cwd);
      case 'check-config':
        return await checkConfig(rest, io, cwd);
      case 'verify-worker': {
        const { verifyWorkerMain } = await import('./verify/worker-cli.js');
        return await verifyWorkerMain(rest, io);
      }
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

async function checkConfig(args: string[], io: Out, cwd: string): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  const { loadConfigFile } = await import('./config/load.js');
  const loaded = loadConfigFile(values.config, cwd);
  if (!loaded) {
    io.out('no conveyor.yaml here: Conveyor would run its built-in sandbox');
    return 0;
  }
  io.out(
    `${loaded.file}: valid (${loaded.config.environments.length} environments, ${loaded.config.apps.length} apps)`,
  );
  // What the file cannot say by itself: names it gives that must exist elsewhere at run time.
  const clusters = Object.keys(loaded.config.kubernetes?.clusters ?? {});
  for (const app of loaded.config.apps) {
    for (const [env, target] of Object.entries(app.targets)) {
      if (!clusters.includes(target.cluster))
        io.out(
          `note: apps.${app.name}.targets.${env} names cluster "${target.cluster}", which is not under kubernetes.clusters: the controller will not watch it (no live state, no verification there)`,
        );
    }
  }
  const named = [
    ...Object.values(loaded.config.notify?.slackWebhooks ?? {}).map((w) => w.urlEnv),
    ...Object.values(loaded.config.notify?.webhooks ?? {}).map((w) => w.secretEnv),
  ];
  for (const name of named) {
    if (!process.env[name] && !process.env[`${name}_FILE`])
      io.out(`note: notify names the environment variable ${name}, which is not set here: serve would refuse to start`);
  }
  // A repository given as a local path must be there (paths are read from the file's folder).
  for (const app of loaded.config.apps) {
    if (!/^(\.{1,2}\/|\/)/.test(app.repo)) continue;
    const path = resolve(loaded.file ? dirname(loaded.file) : cwd, app.repo);
    if (!existsSync(path))
      io.out(
        `note: apps.${app.name}.repo is the local path ${app.repo}, which is not there (${path}; relative paths are read from the configuration's folder): every command on ${app.name} would fail`,
      );
  }
  const journal = loaded.config.journal;
  if (journal && !journal.botUrl) {
    io.out(
      'note: journal.botUrl is not set: journal-watch and journal-agent with this file reach only a serve running on the same machine',
    );
  }
  return 0;
}

/** Who a `conveyor run` acts as: a personal token's owner, an `--as` user (sandbox), or nobody. */
type RunIdentity = { kind: 'token'; token: string } | { kind: 'as'; user: string } | { kind: 'anonymous' };

/** The identity of CLI calls that present none: reads only, never anyone's roles. */
export const ANONYMOUS_CLI_USER = 'cli.anonymous';

const TOKEN_HOW =
  'create a personal token in Slack with `/conveyor token create`, then set CONVEYOR_TOKEN or pass --token-file <file>';

/** A usage problem of `conveyor run`, reported on one line before the usage (exit 2). */
class RunUsageError extends Error {}

/** The personal token from --token-file, CONVEYOR_TOKEN_FILE or CONVEYOR_TOKEN (in that order), if any. */
function personalToken(file: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const path = file ?? env.CONVEYOR_TOKEN_FILE;
  const what = file ? '--token-file' : 'CONVEYOR_TOKEN_FILE';
  let token: string | undefined;
  if (path) {
    const full = resolve(cwd, path);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(full);
    } catch {
      throw new RunUsageError(`${what}: cannot read ${path}`);
    }
    if (!st.isFile()) throw new RunUsageError(`${what}: ${path} is not a file`);
    // Like ssh with a private key: a token others can read is refused, with the fix.
    if ((st.mode & 0o077) !== 0) {
      throw new RunUsageError(
        `${what}: ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
      );
    }
    token = readFileSync(full, 'utf8').trim();
    if (!TOKEN_SHAPE.test(token)) throw new RunUsageError(`${what}: ${path} does not hold a Conveyor token (cvy_…)`);
  } else if (env.CONVEYOR_TOKEN !== undefined && env.CONVEYOR_TOKEN !== '') {
    token = env.CONVEYOR_TOKEN.trim();
    if (!TOKEN_SHAPE.test(token)) throw new RunUsageError('CONVEYOR_TOKEN does not hold a Conveyor token (cvy_…)');
  }
  return token;
}

/** The command the text names, when it changes state (an anonymous call may not run it). */
async function mutatingCommand(text: string): Promise<string | null> {
  const { findCommand } = await import('../commands/index.js');
  const { tokenize } = await import('./core/tokenize.js');
  try {
    const found = findCommand(tokenize(text.trim()));
    return found?.def.mutates ? found.def.name : null;
  } catch {
    return null; // not a valid command: the dispatcher answers with the usage
  }
}

async function runCommand(args: string[], io: Out, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      as: { type: 'string' },
      'token-file': { type: 'string' },
      json: { type: 'boolean' },
      config: { type: 'string' },
      'idempotency-key': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  // The sandbox: no --config and no ./conveyor.yaml (what resolveConfig decides, without building it).
  const sandbox = locateConfig(values.config, cwd).sandbox;
  let identity: RunIdentity;
  try {
    if (positionals.length !== 1) throw new RunUsageError('give the command text as one argument, in quotes');
    const token = personalToken(values['token-file'], env, cwd);
    if (values.as !== undefined && token) throw new RunUsageError('give --as or a personal token, not both');
    if (values.as !== undefined && !sandbox)
      throw new RunUsageError(`--as works only in the sandbox; to act as yourself, ${TOKEN_HOW}`);
    if (values.as === undefined && !token && sandbox) throw new RunUsageError('--as <user> is required');
    identity = token
      ? { kind: 'token', token }
      : values.as !== undefined
        ? { kind: 'as', user: values.as }
        : { kind: 'anonymous' };
  } catch (err) {
    if (!(err instanceof RunUsageError)) throw err;
    io.err(`error: ${err.message}\n${RUN_USAGE}`);
    return 2;
  }
  const text = positionals[0]!;
  if (identity.kind === 'anonymous') {
    const name = await mutatingCommand(text);
    if (name) {
      io.err(`error: "${name}" changes state and needs a personal token: ${TOKEN_HOW}`);
      return 1;
    }
  }
  const idempotencyKey = values['idempotency-key'];
  // A serve on embedded state runs this configuration: it takes the command, and nothing here
  // needs the configuration read (the serve validated it) — the usual case is one small request.
  const located = locateConfig(values.config, cwd);
  const running = readServeInfo(located.serveInfoFile);
  if (running?.embedded && running.config === located.file) {
    return answer(await sendToServe(running, identity, text, idempotencyKey, io), values.json, io);
  }
  const { createLogger } = await import('./core/log.js');
  const { resolveConfig } = await import('./cli-config.js');
  const log = createLogger({ level: env.LOG_LEVEL ?? 'warn' });
  const resolved = await resolveConfig(values.config, cwd, log);
  // --as acts only as a user the sandbox configuration names (checked before anything opens).
  const unknown = identity.kind === 'as' ? unknownDemoUser(identity.user, demoUsers(resolved.config)) : null;
  if (unknown) {
    io.err(`error: ${unknown}\n${RUN_USAGE}`);
    return 2;
  }
  // A serve started before serve.json said what it runs (or on another path to the same file).
  const info = resolved.config.state.url.startsWith('pglite:') ? readServeInfo(resolved.serveInfoFile) : null;
  let reply: Reply | number;
  if (info) {
    reply = await sendToServe(info, identity, text, idempotencyKey, io);
  } else {
    mkdirSync(dirname(resolved.serveInfoFile), { recursive: true });
    const { compose, wireControllerless } = await import('./compose/index.js');
    const { Dispatcher } = await import('./core/dispatcher.js');
    const runtime = await compose({
      config: resolved.config,
      baseDir: resolved.baseDir,
      log,
      sandbox: resolved.sandbox,
    });
    try {
      let user = ANONYMOUS_CLI_USER;
      if (identity.kind === 'as') user = identity.user;
      if (identity.kind === 'token') {
        const owner = await runtime.tokens.verify(identity.token);
        if (!owner) {
          io.err(`error: the token is not valid (unknown or revoked): ${TOKEN_HOW}`);
          return 1;
        }
        user = owner.owner;
      }
      wireControllerless(runtime);
      // A start like any other: resume operations an earlier process left half-done.
      await runtime.engine.sweep();
      reply = await new Dispatcher(runtime, runtime.commands).execute({ text, user, idempotencyKey, source: 'cli' });
    } finally {
      await runtime.engine.stop();
      // Email, Teams and GitHub deliveries go out in the background: send them before the exit.
      await runtime.notifier?.flush?.().catch(() => undefined);
      await runtime.store.close();
    }
  }
  return answer(reply, values.json, io);
}

/** The command through a running serve's `POST /api/run`; a refusal of the request itself is exit 1. */
async function sendToServe(
  info: ServeInfo,
  identity: RunIdentity,
  text: string,
  idempotencyKey: string | undefined,
  io: Out,
): Promise<Reply | number> {
  if (identity.kind === 'anonymous') {
    io.err(`error: the running serve takes commands only from a person: ${TOKEN_HOW}`);
    return 1;
  }
  // node:http rather than fetch: fetch loads undici's whole bundle, a tenth of a second of a CLI call.
  const res = await postLocal(info.port, '/api/run', identity.kind === 'token' ? identity.token : info.token, {
    text,
    idempotencyKey,
    ...(identity.kind === 'as' ? { user: identity.user } : {}),
  });
  const body = res.body as Reply & { error?: string };
  // 400: what was asked is wrong (e.g. --as names no sandbox user): a usage error, as in-process.
  if (res.status === 400 && identity.kind === 'as') {
    io.err(`error: ${body.error ?? res.status}\n${RUN_USAGE}`);
    return 2;
  }
  if (res.status < 200 || res.status >= 300) {
    io.err(`error: the running serve refused the command: ${body.error ?? body.title ?? res.status}`);
    return 1;
  }
  return body;
}

/** POST a JSON body to the serve on this machine; the answer's status and JSON body. */
async function postLocal(
  port: number,
  path: string,
  token: string,
  payload: unknown,
): Promise<{ status: number; body: unknown }> {
  const { request } = await import('node:http');
  const data = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            reject(new Error(`the running serve answered ${res.statusCode} with something that is not JSON`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Print the reply (text, or `--json`) and return its exit code. */
function answer(reply: Reply | number, json: boolean | undefined, io: Out): number {
  if (typeof reply === 'number') return reply;
  if (json) {
    io.out(
      JSON.stringify(
        {
          ok: reply.status === 'ok',
          status: reply.status,
          text: renderText(reply),
          title: reply.title,
          operation: reply.operation,
          data: reply.data,
        },
        null,
        2,
      ),
    );
  } else {
    io.out(renderText(reply));
  }
  return exitCodeOf(reply);
}
