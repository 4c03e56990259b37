/**
 * A Slack server measured by the slack-ack scenario, in a process of its own (`node --import
 * tsx bench/lib/slack-server-child.ts '<json>'`): either `conveyor serve` on a sandbox workspace
 * (its store a PGlite folder, as serve's default is; dist/ when it is current, as `npx conveyor`
 * runs it) or the baseline, a bare Bolt HTTPReceiver app
 * that only acks. Neither shares its event loop with the fake Slack, the load generator or the
 * scenario's counting. Prints `{"port":N}` once it listens; stops on SIGTERM.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { parse, stringify } from 'yaml';
// @ts-expect-error: a plain ES module of bin/, no declarations
import { buildIsFresh } from '../../bin/build-freshness.js';
import { copySandboxTemplate, namedSandboxTemplate } from './sandbox-template.js';

/**
 * serve as `npx conveyor serve` runs it: the compiled dist/ when it is current, else the sources.
 * Imported by the Conveyor child only, and nothing else of Conveyor is: the bare Bolt child
 * loads Bolt alone, and serve's process holds one copy of Conveyor, as a real one does.
 */
async function conveyorModules() {
  const fresh = buildIsFresh();
  const [serve, sandbox] = await Promise.all([
    fresh
      ? import(new URL('../../dist/src/server/serve.js', import.meta.url).href)
      : import('../../src/server/serve.js'),
    fresh
      ? import(new URL('../../dist/src/sandbox/sandbox.js', import.meta.url).href)
      : import('../../src/sandbox/sandbox.js'),
  ]);
  return {
    startServer: (serve as typeof import('../../src/server/serve.js')).startServer,
    ensureSandbox: (sandbox as typeof import('../../src/sandbox/sandbox.js')).ensureSandbox,
  };
}

export interface SlackServerChildInput {
  kind: 'conveyor' | 'bare';
  secret: string;
  apiUrl: string;
  token: string;
  botId: string;
  botUserId: string;
}

const input = JSON.parse(process.argv[2] ?? '{}') as SlackServerChildInput;

async function bare(): Promise<{ port: number; stop(): Promise<void> }> {
  const receiver = new HTTPReceiver({
    signingSecret: input.secret,
    endpoints: '/slack/events',
    logLevel: LogLevel.ERROR,
  });
  const app = new App({
    receiver,
    token: input.token,
    botId: input.botId,
    botUserId: input.botUserId,
    tokenVerificationEnabled: false,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: input.apiUrl },
  });
  app.command('/conveyor', async ({ ack }) => {
    await ack();
  });
  const server = await receiver.start({ port: 0, host: '127.0.0.1' });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stop: async () => {
      await app.stop();
    },
  };
}

async function conveyor(): Promise<{ port: number; stop(): Promise<void> }> {
  const [{ startServer, ensureSandbox }, { pino }] = await Promise.all([conveyorModules(), import('pino')]);
  // The workspace: the run's sandbox, copied (else one made here), and a configuration beside it
  // whose store is the one serve has by default, a PGlite folder (a copy of the installation's
  // migrated template), so each ack pays for what a real one does (its line in the accept log).
  const root = mkdtempSync(join(tmpdir(), 'conveyor-bench-slack-'));
  const template = namedSandboxTemplate();
  const sandboxDir = template ? copySandboxTemplate(await template, root) : (await ensureSandbox(root)).dir;
  const raw = parse(readFileSync(join(sandboxDir, 'conveyor.yaml'), 'utf8')) as Record<string, unknown>;
  raw.state = { url: 'pglite:.conveyor/bench-state' };
  const configFile = join(sandboxDir, 'bench.yaml');
  writeFileSync(configFile, stringify(raw));
  const server = await startServer({
    cwd: root,
    configFile,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    log: pino({ level: 'silent' }),
    env: { SLACK_BOT_TOKEN: input.token, SLACK_SIGNING_SECRET: input.secret, SLACK_API_URL: input.apiUrl },
  });
  return {
    port: server.port,
    stop: async () => {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** BENCH_CPU_PROF=<folder>: a CPU profile of this server, written when it stops. */
async function profiler(): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return async () => {};
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${dir}/${input.kind}-${process.pid}.cpuprofile`, JSON.stringify(profile));
  };
}

const running = await (input.kind === 'bare' ? bare() : conveyor());
const writeProfile = await profiler();
process.once('SIGTERM', () => {
  void running
    .stop()
    .then(writeProfile)
    .finally(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ port: running.port })}\n`);
